"""Verdicts that tell the truth, through the real CLI on a real local Ray cluster.

Each case is one a capacity gate must not turn green: a paused driver, a blocked
generator, a script that exits at import, Ctrl-C during start-up, outputs that cannot be
written, a flow flooding distinct errors. Every report must show the process's code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from cli import CLI
from runproc import leftovers, ray_marker, read_until, start_cli
from servers import KnownServer, veza, write_script

from veza_ray.core import exitcodes

CONSTANT = """
from veza_ray import env

options = {
    "scenarios": {
        "c": {"executor": "constant-vus", "vus": 2, "duration": "%(duration)s", "exec": "flow"},
    },
    "thresholds": {"http_req_failed": ["rate<0.5"]},
}

async def flow(vu):
    await vu.http.get(env("URL") + "/fast")
    await vu.sleep(0.1)
"""


def _popen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_for_line(proc: subprocess.Popen[str], needle: str, seen: list[str]) -> None:
    """Read stderr until a line containing ``needle`` (the process is bounded by its plan)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed: {''.join(seen)}")


@pytest.mark.ray
def test_paused_driver_is_undelivered_load_103(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(tmp_path, CONSTANT % {"duration": "14s"})
    out = tmp_path / "summary.json"
    proc = _popen(
        "run",
        script,
        "--actors",
        "2",
        "-e",
        f"URL={known_server.url}",
        "--summary-export",
        str(out),
        "--quiet",
    )
    seen: list[str] = []
    _wait_for_line(proc, "actor(s) on", seen)
    while known_server.counts["fast"] < 4:  # both actors' VUs are sending (bounded: 14 s plan)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGSTOP)
    # Not a synchronisation: the pause under test, longer than the 5 s lease, so that every
    # actor stops its VUs by itself.
    time.sleep(7.0)
    proc.send_signal(signal.SIGCONT)
    stdout, rest = proc.communicate()
    stderr = "".join(seen) + rest
    assert proc.returncode == exitcodes.LOST_LOAD, stderr
    summary = json.loads(out.read_text())
    vr = summary["veza_ray"]
    delivery = vr["delivery"]
    assert delivery["undelivered_vu_seconds"] > 0
    assert {c["actor"] for c in delivery["cut_short"]} == {0, 1}
    assert all("lease expired" in c["why"] for c in delivery["cut_short"])
    outcome = vr["outcome"]
    assert outcome["code"] == exitcodes.LOST_LOAD
    assert any("paused" in r for r in outcome["reasons"]), outcome
    assert "RESULT: FAIL (exit code 103)" in stdout


BLOCKING = """
import time
from veza_ray import env

options = {
    "scenarios": {"b": {"executor": "constant-vus", "vus": 1, "duration": "8s"}},
    "thresholds": {"http_req_failed": ["rate<0.5"]},
}

async def default(vu):
    await vu.http.get(env("URL") + "/fast")
    time.sleep(1.5)  # blocks the actor's event loop: the generator cannot keep its plan
"""


@pytest.mark.ray
def test_blocked_generator_is_not_a_pass(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(tmp_path, BLOCKING)
    out = tmp_path / "summary.json"
    junit = tmp_path / "junit.xml"
    md = tmp_path / "step.md"
    args = ["run", script, "--actors", "1", "-e", f"URL={known_server.url}", "--quiet"]
    strict = {"VEZA_RAY_ALLOW_SATURATED": "0"}  # the suite allows it elsewhere (conftest)
    res = veza(
        *args,
        "--summary-export",
        str(out),
        "--junit",
        str(junit),
        "--markdown",
        str(md),
        env=strict,
    )
    assert res.returncode == exitcodes.GENERATOR_SATURATED, res.stderr
    summary = json.loads(out.read_text())
    outcome = summary["veza_ray"]["outcome"]
    assert outcome["code"] == exitcodes.GENERATOR_SATURATED
    assert any("saturated" in r for r in outcome["reasons"])
    assert summary["veza_ray"]["generator_health"]["actors"][0]["saturated_s"] >= 1.5
    # Every report shows the code the process exited with.
    assert f"(exit {exitcodes.GENERATOR_SATURATED})" in md.read_text()
    assert f'name="exit_code" value="{exitcodes.GENERATOR_SATURATED}"' in junit.read_text()
    assert 'type="GeneratorSaturated"' in junit.read_text()

    allowed = veza(*args, "--allow-saturated", "--summary-export", str(out), env=strict)
    assert allowed.returncode == exitcodes.OK, allowed.stderr
    notes = json.loads(out.read_text())["veza_ray"]["outcome"]["notes"]
    assert any("--allow-saturated" in n for n in notes)


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "sys.exit('bye')", "raise KeyboardInterrupt"])
def test_exit_at_import_is_107(tmp_path: Path, exit_call: str) -> None:
    script = write_script(tmp_path, f"import sys\n{exit_call}\n")
    res = veza("run", script)
    assert res.returncode == exitcodes.SCRIPT_ERROR, res.stderr
    assert "error while loading" in res.stderr
    assert "Traceback" not in res.stderr


def _ray_procs(marker: str) -> list[Any]:
    """Processes of one test's Ray: each inherits its RAY_TMPDIR (Ray's workers and agents
    rename themselves, so the command line alone does not tell)."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            env = p.environ()
        except psutil.Error:
            continue
        if env.get("RAY_TMPDIR") == marker or marker in " ".join(p.info.get("cmdline") or []):
            found.append(p)
    return found


@pytest.mark.ray
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_while_ray_starts_is_105_and_leaves_no_ray(
    tmp_path: Path, known_server: KnownServer, sig: signal.Signals
) -> None:
    """The signal is sent once the CLI says it is starting Ray (its handlers are in place
    from the first line of main); the driver exits only once every process of that Ray
    is gone, so the check needs no waiting."""
    script = write_script(tmp_path, CONSTANT % {"duration": "30s"})
    summary = tmp_path / "summary.json"
    with ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={known_server.url}",
            "--quiet",
            "--summary-export",
            str(summary),
            marker=marker,
        )
        assert proc.stderr is not None
        seen: list[str] = []
        read_until(proc.stderr, "starting a local Ray cluster", seen)
        proc.send_signal(sig)
        stderr = "".join(seen) + proc.stderr.read()
        proc.wait()
        assert proc.returncode == exitcodes.EXTERNAL_ABORT, stderr
        assert "Traceback" not in stderr
        assert leftovers(marker) == []
    assert known_server.total == 0
    outcome = json.loads(summary.read_text())["veza_ray"]["outcome"]
    assert outcome["code"] == exitcodes.EXTERNAL_ABORT
    assert any(f"stopped by {sig.name} while Ray started" in r for r in outcome["reasons"])


def test_unwritable_outputs_are_refused_before_load(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(tmp_path, CONSTANT % {"duration": "3s"})
    for flag in (
        ["--summary-export", "/nodir/x.json"],
        ["--out", "json=/nodir/x"],
        ["--html", str(tmp_path)],
        ["--junit", "/nodir/j.xml"],
    ):
        res = veza("run", script, "-e", f"URL={known_server.url}", *flag)
        assert res.returncode == exitcodes.INVALID_CONFIG, (flag, res.stderr)
        assert flag[0] in res.stderr, res.stderr
    assert known_server.total == 0


ERRORS = """
import sys
from veza_ray import env

options = {
    "scenarios": {
        "e": {
            "executor": "shared-iterations", "vus": 2, "iterations": 10000, "exec": "boom",
            "startTime": "2s",  # after the sys.exit() ones, so those are kept verbatim
        },
        "x": {"executor": "per-vu-iterations", "vus": 1, "iterations": 3, "exec": "leave"},
    },
}

async def boom(vu):
    raise ValueError(f"distinct message {vu.id}-{vu.iteration}")

async def leave(vu):
    await vu.http.get(env("URL") + "/fast")
    sys.exit(3)  # an iteration error in k6 terms, never a dead actor
"""


@pytest.mark.ray
def test_distinct_errors_are_bounded_and_exit_is_an_iteration_error(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(tmp_path, ERRORS)
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "1",
        "-e",
        f"URL={known_server.url}",
        "--summary-export",
        str(out),
        "--quiet",
    )
    assert res.returncode == exitcodes.OK, res.stderr
    vr = json.loads(out.read_text())["veza_ray"]
    errors = vr["errors"]
    assert len(errors) <= 102
    assert sum(errors.values()) == 10000 + 3
    assert errors.get("SystemExit: 3 (line 20)", 0) == 3, list(errors)[:5]
    assert vr["lost_actors"] == []
    assert known_server.counts["fast"] == 3
    assert res.stderr.count("iteration error:") <= 102


@pytest.mark.ray
def test_more_vus_than_memory_is_refused_with_the_estimate(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(
        tmp_path,
        CONSTANT.replace('"vus": 2', '"vus": 10_000_000') % {"duration": "3s"},
    )
    res = veza("run", script, "--actors", "1", "-e", f"URL={known_server.url}", "--quiet")
    assert res.returncode == exitcodes.INVALID_CONFIG, res.stderr
    assert "10000000 VUs on 1 actor(s) need about" in res.stderr
    assert known_server.total == 0


@pytest.mark.ray
def test_an_existing_local_cluster_is_used(tmp_path: Path, known_server: KnownServer) -> None:
    """`ray start --head` already ran here: the run attaches to it (as ray.init() does)
    instead of failing or starting a second Ray on the same cores."""
    import socket

    ray_tmp = Path(tempfile.mkdtemp(prefix="vr", dir="/tmp"))
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp)}
    env.pop("RAY_ADDRESS", None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = subprocess.run(
        [
            "ray",
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    try:
        assert started.returncode == 0, started.stderr
        script = write_script(tmp_path, CONSTANT % {"duration": "2s"})
        out = tmp_path / "summary.json"
        res = veza(
            "run",
            script,
            "--actors",
            "1",
            "-e",
            f"URL={known_server.url}",
            "--summary-export",
            str(out),
            "--quiet",
            env={"RAY_TMPDIR": str(ray_tmp)},
        )
        assert res.returncode == exitcodes.OK, res.stderr
        assert "using the Ray cluster already running on this machine" in res.stderr
        assert json.loads(out.read_text())["metrics"]["http_reqs"]["values"]["count"] > 0
        # The cluster is still up after the run: it was not ours to stop.
        assert _ray_procs(str(ray_tmp))
    finally:
        import psutil

        for p in _ray_procs(str(ray_tmp)):
            with contextlib.suppress(psutil.Error):
                p.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)


RATE = """
from veza_ray import env

options = {
    "scenarios": {
        "r": {"executor": "constant-arrival-rate", "rate": 5, "duration": "2s",
              "preAllocatedVUs": 2},
    },
}

async def default(vu):
    await vu.http.get(env("URL") + "/fast")
"""


@pytest.mark.ray
def test_actors_auto_places_what_the_rate_needs(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(tmp_path, RATE)
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "auto",
        "-e",
        f"URL={known_server.url}",
        "--summary-export",
        str(out),
        "--quiet",
    )
    assert res.returncode == exitcodes.OK, res.stderr
    assert "--actors auto: 1 actor(s) per node on 1 node(s)" in res.stderr
    vr = json.loads(out.read_text())["veza_ray"]
    assert len(vr["actors"]) == 1
    assert known_server.counts["fast"] == 10
