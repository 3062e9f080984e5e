"""Outputs never destroy an input, and a lost output is never a silent pass.

An output path that resolves to an input of the run (the scenario, a file it reads with
open(), a module it imports) or to another output is refused before any load (104). An
output the run could not write whole (a full device, a full filesystem, a directory that
vanished mid-run) ends the run with 113, or 0 with a note under --allow-output-loss, and
the outcome says what was lost and how much (docs/security.md, "Outputs").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import KnownServer, veza, write_script

FLOW = """
import os, shutil
from veza_ray import check, env, open as read_file
%(load)s
options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "2s"}}}

async def default(vu):
    if vu.iteration == 0 and env("VANISH"):
        shutil.rmtree(env("VANISH"), ignore_errors=True)
    r = await vu.http.get(env("URL") + "/fast")
    check(r, {"200": lambda r: r.status == 200})
%(extra)s
"""


def _script(tmp_path: Path, load: str = "", extra: str = "") -> str:
    return write_script(tmp_path, FLOW % {"load": load, "extra": extra})


def _run(script: str, server: KnownServer, *flags: str) -> subprocess.CompletedProcess[str]:
    return veza("run", script, "-e", f"URL={server.url}", "--quiet", *flags)


# -- refused before any load ---------------------------------------------------------------


def _spellings(tmp_path: Path, script: str) -> dict[str, tuple[list[str], str]]:
    """Each case: the output flags, and what the message must name as the input."""
    (tmp_path / "link.py").symlink_to(script)
    os.link(script, tmp_path / "hard.py")
    (tmp_path / "sub").mkdir()
    return {
        "summary-dot-slash": (["--summary-export", f"{tmp_path}/./scenario.py"], script),
        "summary-dot-dot": (["--summary-export", f"{tmp_path}/sub/../scenario.py"], script),
        "html-symlink": (["--html", str(tmp_path / "link.py")], script),
        "junit-hard-link": (["--junit", str(tmp_path / "hard.py")], script),
        "json-data-file": (["--out", f"json={tmp_path / 'users.csv'}"], "users.csv"),
        "markdown-module": (["--markdown", str(tmp_path / "helper.py")], "helper.py"),
        "two-outputs": (
            ["--summary-export", str(tmp_path / "r.out"), "--html", f"{tmp_path}/./r.out"],
            "--summary-export",
        ),
    }


CASES = [
    "summary-dot-slash",
    "summary-dot-dot",
    "html-symlink",
    "junit-hard-link",
    "json-data-file",
    "markdown-module",
    "two-outputs",
]


@pytest.mark.parametrize("case", CASES)
def test_an_output_on_an_input_is_refused_before_any_load(
    case: str, tmp_path: Path, known_server: KnownServer
) -> None:
    (tmp_path / "users.csv").write_text("alice,bob\n")
    (tmp_path / "helper.py").write_text("NAMES = ['alice']\n")
    script = _script(tmp_path, load="import helper\nUSERS = read_file('users.csv')")
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    flags, names = _spellings(tmp_path, script)[case]
    res = _run(script, known_server, *flags)
    assert res.returncode == 104, res.stderr
    assert "would overwrite" in res.stderr and names in res.stderr
    assert flags[0].split("=")[0] in res.stderr  # the output's flag is named too
    assert known_server.total == 0
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was changed"


def test_report_refuses_to_overwrite_its_summary(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps({"metrics": {}, "veza_ray": {}}))
    res = veza("report", str(summary), "--html", f"{tmp_path}/./s.json")
    assert res.returncode == 104 and "would overwrite the summary" in res.stderr
    assert json.loads(summary.read_text()) == {"metrics": {}, "veza_ray": {}}


# -- lost at the end: 113 -----------------------------------------------------------------


def _lost(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "output lost:" in line]


@pytest.mark.ray
@pytest.mark.parametrize("allow", [False, True], ids=["exit-113", "allowed"])
def test_a_full_device_is_not_a_green_run(
    allow: bool, tmp_path: Path, known_server: KnownServer
) -> None:
    """NDJSON and the summary on /dev/full, a handle_summary file on the scenario itself."""
    kept = str(tmp_path / "hs.txt")
    hs = (
        "def handle_summary(data):\n"
        f"    return {{'stdout': 'custom', __file__: 'clobbered', {kept!r}: 'kept'}}\n"
    )
    script = _script(tmp_path, extra=hs)
    source = Path(script).read_text()
    junit = tmp_path / "j.xml"
    args = ["--out", "json=/dev/full", "--summary-export", "/dev/full", "--junit", str(junit)]
    res = _run(script, known_server, *args, *(["--allow-output-loss"] if allow else []))
    assert known_server.total > 0  # the load really ran
    assert res.returncode == (0 if allow else 113), res.stderr
    text = res.stderr
    assert re.search(r"--out json=/dev/full: No space left on device; 0 of \d+ intervals", text)
    assert re.search(r"--summary-export /dev/full: No space left on device; 0 of \d+ bytes", text)
    assert f"handle_summary {script!r} would overwrite the scenario file" in text
    assert Path(script).read_text() == source
    assert (tmp_path / "hs.txt").read_text() == "kept"
    rescued = re.search(r"the summary was saved to (\S+) instead", text)
    assert rescued, text
    saved = json.loads(Path(rescued.group(1)).read_text())
    os.unlink(rescued.group(1))
    outcome = saved["veza_ray"]["outcome"]
    assert outcome["code"] == res.returncode
    assert saved["metrics"]["http_reqs"]["values"]["count"] == known_server.total
    assert f'name="exit_code" value="{res.returncode}"' in junit.read_text()
    if allow:
        assert len(outcome["notes"]) >= 3 and not outcome["reasons"]
        assert "--allow-output-loss" in text
    else:
        assert len(outcome["reasons"]) == 3 and len(_lost(text)) == 3
        assert "FAIL (exit 113): output lost: --out json=/dev/full" in text


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs, unmounted at teardown (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "tiny"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.mark.ray
def test_a_report_on_a_full_filesystem_is_lost_and_named(
    tiny_fs: Path, tmp_path: Path, known_server: KnownServer
) -> None:
    script = _script(tmp_path)
    html = tiny_fs / "r.html"
    res = _run(script, known_server, "--html", str(html), "--summary-export", f"{tmp_path}/s.json")
    assert res.returncode == 113, res.stderr
    assert re.search(r"--html \S+r\.html: No space left on device; 0 of \d+ bytes", res.stderr)
    assert not html.exists() and os.listdir(tiny_fs) == []  # no half file, no temp file
    summary = json.loads((tmp_path / "s.json").read_text())  # rewritten with the outcome
    assert summary["veza_ray"]["outcome"]["code"] == 113
    assert known_server.total > 0


@pytest.mark.ray
def test_a_read_only_filesystem_is_refused_before_the_run(
    tiny_fs: Path, tmp_path: Path, known_server: KnownServer
) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    script = _script(tmp_path)
    res = veza("run", script, "-e", f"URL={known_server.url}", "--junit", str(tiny_fs / "j.xml"))
    assert res.returncode == 104 and "--junit" in res.stderr and "not writable" in res.stderr
    assert known_server.total == 0


@pytest.mark.ray
def test_a_directory_that_vanishes_mid_run_loses_its_outputs(
    tmp_path: Path, known_server: KnownServer
) -> None:
    """The flow itself removes the output directory on its first iteration."""
    script = _script(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    flags = ["-e", f"VANISH={out}", "--out", f"json={out / 'm.ndjson'}", "--html", f"{out}/r.html"]
    res = _run(script, known_server, *flags)
    assert known_server.total > 0
    assert res.returncode == 113, res.stderr
    lost = _lost(res.stderr)
    # removed under the open file (or already gone when it was to be opened)
    assert any(
        re.search(r"m\.ndjson: (the file was removed|No such file).* intervals", x) for x in lost
    )
    assert any("r.html: No such file or directory" in x for x in lost)
    assert not out.exists()  # nothing recreated it behind the user's back


def test_ndjson_on_a_filesystem_that_fills_keeps_whole_lines(tiny_fs: Path) -> None:
    """The stream runs out of space mid-line: the file is cut back to its last whole line
    and the loss is counted in intervals and bytes (no Ray: the output itself)."""
    from veza_ray.outputs.base import Interval, RunStart
    from veza_ray.outputs.streams import NdjsonOutput

    path = tiny_fs / "m.ndjson"
    out = NdjsonOutput(str(path))
    out.start(RunStart("s.py", 0.0, 1.0, ("a",)))
    point = {"a": {"reqs": 1, "pad": "x" * 1000}}
    n = 0
    while out.stream is not None:  # until the filesystem (16 KiB) is full
        out.interval(Interval(float(n), float(n), 1.0, point, {}, [], "", None))  # type: ignore[arg-type]
        n += 1
    out.interval(Interval(float(n), float(n), 1.0, point, {}, [], "", None))  # type: ignore[arg-type]
    end = out.end()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(x) for x in lines[:-1])
    written = len(lines) - 1
    assert 5 <= written < n
    assert end.summary is not None and end.summary["bytes_lost"] > 1000
    assert end.summary["intervals_written"] == written
    assert end.summary["bytes_written"] == path.stat().st_size
    assert end.summary["intervals_lost"] == n + 1 - written
    assert f"{written} of {n + 1} intervals written" in end.lost[0]
    assert "No space left on device" in end.lost[0]
