"""The live web dashboard in a real Chromium (Debian's, driven by Playwright) against a
real run on the Veza API emulator (``--demo``, a local Ray cluster).

One long run, stopped from the page: the page loads with no console message and no
request outside its origin, a threshold crossing turns its row red while the run goes
on, a second page opened mid-run shows the series from the run's first interval, the
stop button (after its confirmation) ends the run with 105 and the summary written, and
the page's final numbers are the summary's. A second run binds 0.0.0.0: without the
token printed on stderr, control is refused and the page is read-only; the token is
nowhere but that one line.

The screenshots in docs/ come from the 3-node namespaced run instead
(tests/e2e/test_dashboard_netns.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dashboard_browser import chromium, ms_text, scenario_p95, watch
from dashboard_browser import wait as _wait
from requires import requires
from servers import write_script

from veza_ray.reports import fmt

pytestmark = [pytest.mark.ray, requires("chromium", "playwright")]

SCRIPT = """
from veza_ray import Counter, check, env, sleep

searches = Counter("dash_searches")
options = {
    "scenarios": {
        "browse": {"executor": "constant-vus", "vus": 2, "duration": "90s", "exec": "browse"},
        "health": {
            "executor": "constant-arrival-rate", "rate": 4, "timeUnit": "1s",
            "duration": "90s", "preAllocatedVUs": 2, "exec": "health",
        },
    },
    "thresholds": {
        "http_req_duration{scenario:browse}": ["p(95)<2000"],
        "iterations": [{"threshold": "count<%(limit)d", "abortOnFail": False}],
        "checks": ["rate>0.5"],
    },
}

async def browse(vu):
    r = await vu.http.get(env("BASE_URL") + "/api/v1/search?q=a", tags={"name": "search"})
    check(r, {"search 200": lambda r: r.status == 200})
    searches.add(1)
    await sleep(0.25)

async def health(vu):
    r = await vu.http.get(env("BASE_URL") + "/api/v1/health")
    check(r, {"health 200": lambda r: r.status == 200})
"""


@dataclass
class Run:
    """A ``veza-ray run`` subprocess and its stderr, read as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url_seen: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    reader: threading.Thread | None = None

    def read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"web dashboard on (http://[^ /]+/)", line)
            if m and not self.url:
                self.url = m.group(1)
                self.url_seen.set()
        self.url_seen.set()  # the run ended: stop waiting either way

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def _start(tmp_path: Path, target: str, limit: int, extra: list[str]) -> Run:
    script = write_script(tmp_path, SCRIPT % {"limit": limit})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "veza_ray.cli",
            "run",
            script,
            "--demo",
            "--actors",
            "2",
            "--quiet",
            "--out",
            f"web-dashboard={target}",
            "--summary-export",
            str(tmp_path / "summary.json"),
            "--html",
            str(tmp_path / "report.html"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    run = Run(proc)
    run.reader = threading.Thread(target=run.read, daemon=True)
    run.reader.start()
    run.url_seen.wait()
    assert run.url, run.stderr
    return run


def _finish(run: Run) -> tuple[int, str]:
    """Wait for the run's end; its stdout (stderr is the reader thread's, read to its end)."""
    assert run.proc.stdout is not None and run.reader is not None
    out = run.proc.stdout.read()
    code = run.proc.wait()
    run.reader.join()
    return code, out


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "v1/status") as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc["data"]["attributes"]


def test_live_page_threshold_history_stop_and_final_numbers(tmp_path: Path, browser: Any) -> None:
    run = _start(tmp_path, "host=127.0.0.1&port=0&period=1s", limit=60, extra=[])
    origin = run.url.rstrip("/")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        messages, outside = watch(page, origin)
        page.goto(run.url)
        _wait(page, "document.body.dataset.seq >= 2")
        assert page.locator("#vr-stop").is_visible()  # loopback: control without a token
        # The iterations threshold crosses its bound mid-run: its row turns red live.
        row = page.locator("table.thr tr", has_text="count<60")
        _wait(page, "document.querySelector('table.thr tr.bad') !== null")
        assert "bad" in (row.get_attribute("class") or "")
        assert page.locator("table.thr tr", has_text="p(95)<2000").get_attribute("class") == "ok"
        assert _status(run.url)["running"] is True and run.proc.poll() is None
        assert page.evaluate("document.body.dataset.running") == "true"
        points = int(
            _wait(page, "document.body.dataset.points >= 6 && document.body.dataset.points")
        )
        first_t = float(page.evaluate("document.body.dataset.firstT"))
        assert first_t <= 2.5, first_t  # the run's first interval
        page.locator("#vr-tabs button[data-tab=cluster]").click()
        assert page.locator("#cluster").is_visible() and not page.locator("#verdict").is_visible()
        assert page.locator("#cluster tr[data-actor]").count() == 2
        page.locator("#vr-tabs button[data-tab=overview]").click()

        # A second page load mid-run: the whole series from the start, not from now.
        second = browser.new_page(viewport={"width": 1280, "height": 900})
        messages2, outside2 = watch(second, origin)
        second.goto(run.url)
        _wait(second, "document.body.dataset.seq >= 1")
        assert int(second.evaluate("document.body.dataset.points")) >= points
        assert float(second.evaluate("document.body.dataset.firstT")) == first_t
        assert second.locator("svg.chart path.series").count() >= 4

        # Stop from the page: a confirmation, then the run ends as Ctrl-C ends it.
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.locator("#vr-stop").click()
        code, _ = _finish(run)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.communicate()
    assert dialogs and "Stop the test?" in dialogs[0]
    assert code == 105, run.stderr[-3000:]
    assert "stopped by the web dashboard" in run.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert any(
        "stopped by the web dashboard" in r for r in summary["veza_ray"]["outcome"]["reasons"]
    )
    assert summary["veza_ray"]["outputs"]["web-dashboard"]["stopped_from_page"] is True

    # The final state reached both pages; its numbers are the summary's.
    for p in (page, second):
        _wait(p, "document.body.dataset.running === 'false'")
        assert p.evaluate("document.body.dataset.verdict") == "FAIL"
        assert "exit code 105" in p.locator("#verdict").inner_text()
        assert "stopped by the web dashboard" in p.locator("#verdict").inner_text()
    total = summary["metrics"]["http_reqs"]["values"]["count"]
    cell = "tr[data-scenario='{}'] td[data-k='{}']"
    assert page.locator(cell.format("all", "requests")).inner_text() == fmt.number(total)
    shown = 0
    for name in ("browse", "health"):
        reqs = sum(p["scenarios"][name]["reqs"] for p in summary["veza_ray"]["intervals"])
        assert page.locator(cell.format(name, "requests")).inner_text() == fmt.number(reqs)
        shown += reqs
        p95_text = page.locator(cell.format(name, "p95")).inner_text()
        assert p95_text == fmt.ms(scenario_p95(summary, name))
        assert ms_text(p95_text) == pytest.approx(scenario_p95(summary, name), rel=0.01, abs=0.01)
    assert shown == total
    assert messages == [] and messages2 == [], messages + messages2
    assert outside == [] and outside2 == [], outside + outside2
    # The run's end closed the streams and the server: nothing listens any more.
    with pytest.raises(urllib.error.URLError):
        _status(run.url)


def test_off_loopback_bind_needs_the_token_which_is_nowhere_else(
    tmp_path: Path, browser: Any
) -> None:
    run = _start(
        tmp_path,
        "host=0.0.0.0&port=0&period=1s",
        limit=100_000,
        extra=["--out", f"json={tmp_path / 'metrics.ndjson'}"],
    )
    try:
        port = int(run.url.rsplit(":", 1)[1].strip("/"))
        local = f"http://127.0.0.1:{port}/"
        m = re.search(r"the token (\S+) ;", run.stderr)
        assert m, run.stderr
        token = m.group(1)
        body = json.dumps({"data": {"attributes": {"stopped": True}}}).encode()

        def patch(auth: str | None) -> int:
            req = urllib.request.Request(local + "v1/status", data=body, method="PATCH")
            req.add_header("Content-Type", "application/json")
            if auth is not None:
                req.add_header("Authorization", auth)
            try:
                with urllib.request.urlopen(req) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)

        assert patch(None) == 401
        assert patch("Bearer wrong-token-value") == 401
        assert patch(f"Bearer {token}x") == 401
        assert _status(local)["stopped"] is False and _status(local)["running"] is True

        page = browser.new_page()
        messages, _ = watch(page, local.rstrip("/"))
        page.goto(local)
        _wait(page, "document.body.dataset.seq >= 1")
        assert page.evaluate("document.body.dataset.control") == "token"
        assert not page.locator("#vr-stop").is_visible()
        assert "read-only" in page.locator("#vr-state").inner_text()
        assert token not in page.content()
        page.close()
        with_token = browser.new_page()
        with_token.goto(f"{local}#token={token}")
        _wait(with_token, "document.body.dataset.seq >= 1")
        with_token.once("dialog", lambda d: d.accept())
        with_token.locator("#vr-stop").click()
        code, stdout = _finish(run)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.communicate()
    assert code == 105, run.stderr[-3000:]
    assert messages == [], messages
    # Printed once, on stderr; redacted from everything written after it.
    assert run.stderr.count(token) == 2  # the one line: the token and the URL with it
    assert len([ln for ln in run.lines if token in ln]) == 1
    assert token not in stdout
    for name in ("summary.json", "report.html", "metrics.ndjson"):
        assert token not in (tmp_path / name).read_text(), name
