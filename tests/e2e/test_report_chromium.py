"""The HTML report in a real headless Chromium (Debian's ``chromium``, no Python deps).

Renders the fixture summary (a real demo run) to a file and opens it from disk, as a
person opening a CI artifact would: the DOM has the verdict and charts, the browser logs
no console message at all (the report has no script, so any message is a failure such as
a blocked resource), every chart's paths have a real length once laid out, and a
screenshot is kept under $VEZA_RAY_ARTIFACTS (default: the test's tmp dir).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from requires import find_chromium, requires

from veza_ray.reports import render_html

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "summary_veza_mixed.json"


CHROMIUM = find_chromium()
pytestmark = requires("chromium")

# Offline and quiet: no network services, no first-run UI, no GPU in CI containers.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
CONSOLE = re.compile(r":CONSOLE[:(]")

# Test-only probe, injected into a copy: the report itself must not need any script.
PROBE = """<script>
window.addEventListener('load', () => {
  const out = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    const paths = [...svg.querySelectorAll('path.series, path.bars')]
      .map(p => p.getTotalLength());
    return {w: box.width, h: box.height, paths};
  });
  document.body.setAttribute('data-probe', JSON.stringify(out));
});
</script>"""


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("VEZA_RAY_ARTIFACTS") or tmp_path / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def report_file(tmp_path: Path, artifacts: Path) -> Path:
    summary: dict[str, Any] = json.loads(FIXTURE.read_text())
    path = tmp_path / "report.html"
    path.write_text(render_html(summary), encoding="utf-8")
    shutil.copy(path, artifacts / "report.html")
    return path


def _console_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if CONSOLE.search(ln) or "Uncaught" in ln]


def test_console_capture_sees_errors(tmp_path: Path) -> None:
    """The detector itself: a page with a broken script must be caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    res = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()], tmp_path / "p")
    lines = _console_lines(res.stderr)
    assert any("Uncaught" in ln and "nope" in ln for ln in lines), res.stderr[-2000:]


def test_dom_has_verdict_and_charts_and_no_console_messages(
    report_file: Path, tmp_path: Path
) -> None:
    res = _run(
        ["--enable-logging=stderr", "--v=0", "--dump-dom", report_file.as_uri()],
        tmp_path / "profile",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert 'id="verdict"' in dom and 'data-verdict="PASS"' in dom and ">PASS<" in dom
    charts = re.findall(r'<svg class="chart".*?</svg>', dom, re.S)
    assert len(charts) == 20  # 4 scenarios x 4 time series + 4 distributions
    for svg in charts:
        d = re.findall(r'<path class="(?:series|bars)" d="([^"]+)"', svg)
        assert d and all(x.startswith("M") for x in d)
    assert _console_lines(res.stderr) == []


def test_charts_have_laid_out_content(report_file: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(report_file.read_text().replace("</body>", PROBE + "</body>"))
    res = _run(["--window-size=1280,2400", "--dump-dom", probed.as_uri()], tmp_path / "profile")
    m = re.search(r'data-probe="([^"]*)"', res.stdout)
    assert m, res.stderr[-2000:]
    boxes = json.loads(html.unescape(m.group(1)))
    assert len(boxes) == 20
    for box in boxes:
        assert box["w"] > 150 and box["h"] > 80, box
        assert box["paths"] and all(length > 0 for length in box["paths"]), box


def test_screenshot(report_file: Path, tmp_path: Path, artifacts: Path) -> None:
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    res = _run(
        ["--window-size=1280,2400", f"--screenshot={shot}", report_file.as_uri()],
        tmp_path / "profile",
    )
    assert shot.exists(), res.stderr[-2000:]
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1280, 2400)
    # A blank page compresses to a few kB; a drawn report is far larger.
    assert shot.stat().st_size > 50_000
