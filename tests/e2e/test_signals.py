"""Stop signals in every phase and closed output streams, through the real CLI.

A stop (SIGINT, SIGTERM, or SIGHUP: a closed terminal, a dropped SSH session) ends a run
with 105 whatever the phase, the summary written with the reason, no request reaching
the target once the driver is gone and no Ray process of the run left. A stdout or
stderr whose reader left never changes the exit code. Every signal is sent on a
readiness signal (a line on stderr, the target's first request, a pre-flight request),
never after a fixed sleep.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import termios
from pathlib import Path
from typing import Any

import pytest
from runproc import (
    CountingTarget,
    leftovers,
    ray_marker,
    read_until,
    start_cli,
    wait_first_hit,
)
from servers import write_script

from veza_ray.core import exitcodes

RUN = """
import sys
from veza_ray import env

options = {
    "scenarios": {
        "c": {"executor": "constant-vus", "vus": 2, "duration": "%(duration)s", "exec": "flow"},
    },
    "thresholds": {"http_req_failed": ["rate<0.5"]%(extra)s},
}

async def flow(vu):
    await vu.http.get(env("URL") + "/hit")
    if env("PRINT", ""):
        print("flow line", vu.id, vu.iteration)
    await vu.sleep(0.1)
"""

# Blocks at import until the test opens the FIFO for writing: "the script is loading".
LOADING = """
import os, sys
print("SCRIPT-LOADING", file=sys.stderr, flush=True)
with open(os.environ["VZR_TEST_FIFO"]) as fh:
    fh.read()
"""

# handle_summary blocks until the test opens the FIFO: "the summary is being written".
ENDING = """
import os, sys

def handle_summary(data):
    print("SUMMARY-WRITING", file=sys.stderr, flush=True)
    with open(os.environ["VZR_TEST_FIFO"]) as fh:
        fh.read()
    return {"stdout": "custom summary\\n"}
"""

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _script(tmp_path: Path, duration: str = "20s", extra: str = "", tail: str = "") -> str:
    return write_script(tmp_path, RUN % {"duration": duration, "extra": extra} + tail)


def _checked_end(
    proc: subprocess.Popen[str],
    target: CountingTarget,
    marker: str,
    summary_path: Path,
    code: int,
    reason: str | None,
) -> dict[str, Any]:
    """The common promises of a run that ended: its code, a summary saying why, nothing
    of its Ray alive and no request reaching the target after it exited."""
    proc.wait()
    at_exit = target.hits
    assert proc.returncode == code
    assert leftovers(marker) == []
    assert target.settled_hits() == at_exit
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    outcome = summary["veza_ray"]["outcome"]
    assert outcome["code"] == code
    if reason is not None:
        assert any(reason in r for r in outcome["reasons"]), outcome
    reqs = summary["metrics"].get("http_reqs", {}).get("values", {}).get("count", 0)
    assert reqs <= at_exit
    return summary


def _fifo(tmp_path: Path) -> str:
    path = str(tmp_path / "go.fifo")
    os.mkfifo(path)
    return path


def _release(fifo: str) -> None:
    with open(fifo, "w"):
        pass


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_while_the_script_loads_writes_a_105_summary(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The first signal waits for the script to load (so the output paths are checked),
    then ends the run before anything starts; no Ray, no load."""
    fifo = _fifo(tmp_path)
    script = _script(tmp_path, tail=LOADING)
    summary = tmp_path / "summary.json"
    with CountingTarget() as target, ray_marker() as marker:
        proc = _start_with_fifo(script, target, marker, summary, fifo)
        assert proc.stderr is not None
        seen: list[str] = []
        read_until(proc.stderr, "SCRIPT-LOADING", seen)
        proc.send_signal(sig)
        _release(fifo)
        rest = proc.stderr.read()
        _checked_end(
            proc,
            target,
            marker,
            summary,
            exitcodes.EXTERNAL_ABORT,
            f"stopped by {sig.name} while the script loaded",
        )
        assert target.hits == 0 and not target.health_seen.is_set()
        assert "starting a local Ray cluster" not in "".join(seen) + rest
        assert f"FAIL (exit 105): stopped by {sig.name}" in rest


def _start_with_fifo(
    script: str, target: CountingTarget, marker: str, summary: Path, fifo: str, *extra: str
) -> subprocess.Popen[str]:
    return start_cli(
        "run",
        script,
        "-e",
        f"URL={target.url}",
        "-e",
        f"BASE_URL={target.url}",
        "--actors",
        "1",
        "--summary-export",
        str(summary),
        "--quiet",
        *extra,
        marker=marker,
        env_extra={"VZR_TEST_FIFO": fifo},
    )


@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_during_the_preflight_is_105_with_no_load(
    tmp_path: Path, sig: signal.Signals
) -> None:
    script = _script(tmp_path)
    summary = tmp_path / "summary.json"
    with CountingTarget(health_hold_s=30.0) as target, ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "-e",
            f"BASE_URL={target.url}",
            "--summary-export",
            str(summary),
            "--quiet",
            marker=marker,
        )
        while not target.health_seen.wait(0.1):  # the pre-flight's GET reached the target
            assert proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        _, stderr = proc.communicate()
        assert "Traceback" not in stderr
        _checked_end(
            proc,
            target,
            marker,
            summary,
            exitcodes.EXTERNAL_ABORT,
            f"stopped by {sig.name} during the pre-flight health check",
        )
        assert target.hits == 0


@pytest.mark.ray
@pytest.mark.parametrize("sig", SIGNALS)
def test_a_signal_while_vus_run_is_a_graceful_105(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGINT, SIGTERM and SIGHUP alike: VUs stopped gracefully, summary of what ran."""
    script = _script(tmp_path)
    summary = tmp_path / "summary.json"
    with CountingTarget() as target, ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "--actors",
            "1",
            "--no-preflight",
            "--summary-export",
            str(summary),
            "--quiet",
            marker=marker,
        )
        wait_first_hit(target, proc)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate()
        data = _checked_end(
            proc, target, marker, summary, exitcodes.EXTERNAL_ABORT, f"stopped by {sig.name}"
        )
        assert data["metrics"]["http_reqs"]["values"]["count"] > 0
        assert f"{sig.name}: stopping all VUs gracefully" in stderr
        assert "RESULT: FAIL (exit code 105)" in stdout


@pytest.mark.ray
def test_sighup_to_the_whole_process_group_stops_the_run_not_ray(tmp_path: Path) -> None:
    """A shell whose terminal closed sends SIGHUP to each job's process group, Ray's
    processes included: they must outlive it long enough for the graceful stop."""
    script = _script(tmp_path)
    summary = tmp_path / "summary.json"
    with CountingTarget() as target, ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "--actors",
            "1",
            "--no-preflight",
            "--summary-export",
            str(summary),
            "--quiet",
            marker=marker,
            start_new_session=True,
        )
        wait_first_hit(target, proc)
        os.killpg(proc.pid, signal.SIGHUP)
        _, stderr = proc.communicate()
        assert "lost actor" not in stderr, stderr
        data = _checked_end(
            proc, target, marker, summary, exitcodes.EXTERNAL_ABORT, "stopped by SIGHUP"
        )
        assert data["veza_ray"]["lost_actors"] == []


def _own_terminal() -> None:
    """In the child: make the pty on stdin its controlling terminal (after setsid)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.ray
def test_a_closed_terminal_is_a_105_with_the_summary_written(tmp_path: Path) -> None:
    """The real thing: the run's terminal goes away (the kernel sends SIGHUP, and every
    later write to it fails with EIO), in the middle of the live progress view."""
    script = _script(tmp_path)
    summary = tmp_path / "summary.json"
    master, slave = pty.openpty()
    with CountingTarget() as target, ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "--actors",
            "1",
            "--no-preflight",
            "--summary-export",
            str(summary),
            marker=marker,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_own_terminal,
        )
        os.close(slave)
        wait_first_hit(target, proc)
        os.close(master)  # the terminal closes
        _checked_end(proc, target, marker, summary, exitcodes.EXTERNAL_ABORT, "stopped by SIGHUP")


@pytest.mark.ray
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_summary_is_written_keeps_the_verdict(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Once the outcome is decided the load is over: the summary is finished and the exit
    code is the run's (here 99), the same as the summary says."""
    fifo = _fifo(tmp_path)
    script = _script(tmp_path, "2s", ', "http_reqs": ["count<1"]', tail=ENDING)
    summary = tmp_path / "summary.json"
    with CountingTarget() as target, ray_marker() as marker:
        proc = _start_with_fifo(script, target, marker, summary, fifo, "--no-preflight")
        assert proc.stderr is not None
        seen: list[str] = []
        read_until(proc.stderr, "SUMMARY-WRITING", seen)
        proc.send_signal(sig)
        _release(fifo)
        stdout, rest = proc.communicate()
        _checked_end(
            proc, target, marker, summary, exitcodes.THRESHOLDS_FAILED, "threshold crossed"
        )
        assert stdout.strip() == "custom summary"
        assert f"{sig.name} after the verdict was decided" in rest
        assert "FAIL (exit 99)" in rest


# ---- closed stdout / stderr -------------------------------------------------------------


@pytest.mark.ray
@pytest.mark.parametrize("when", ["start", "first-line", "end"])
def test_a_closed_stdout_keeps_the_exit_code_and_the_outcome_line(
    tmp_path: Path, when: str
) -> None:
    """`veza-ray run ... | head -1`: the reader leaves before anything was written, after
    the first line of the flows' output, or before the end-of-test summary. The thresholds
    fail here, so a wrong code (1, 0, 120) cannot pass for the right one (99)."""
    script = _script(tmp_path, "3s", ', "http_reqs": ["count<1"]')
    summary = tmp_path / "summary.json"
    printing = ["-e", "PRINT=1"] if when != "end" else []
    with CountingTarget() as target, ray_marker() as marker:
        proc = start_cli(
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "--actors",
            "1",
            "--no-preflight",
            "--summary-export",
            str(summary),
            "--quiet",
            *printing,
            marker=marker,
        )
        assert proc.stdout is not None and proc.stderr is not None
        seen: list[str] = []
        if when == "first-line":
            assert "flow line" in proc.stdout.readline()
        elif when == "end":
            read_until(proc.stderr, "actor(s) on", seen)  # nothing on stdout before the end
        proc.stdout.close()
        stderr = "".join(seen) + proc.stderr.read()
        data = _checked_end(
            proc, target, marker, summary, exitcodes.THRESHOLDS_FAILED, "threshold crossed"
        )
        assert "veza-ray: FAIL (exit 99)" in stderr
        assert "stdout was closed by its reader" in stderr
        notes = data["veza_ray"]["outcome"]["notes"]
        if when != "end":  # lost during the run: the summary says so too
            assert any("stdout was closed by its reader" in n for n in notes), notes
        assert "Traceback" not in stderr and "Exception ignored" not in stderr


def _close_stdout_and_stderr() -> None:
    """In the child, before exec: `>&- 2>&-`."""
    os.close(1)
    os.close(2)


@pytest.mark.ray
@pytest.mark.parametrize("how", ["pipes", "descriptors"])
def test_stdout_and_stderr_both_closed_still_give_the_runs_code(tmp_path: Path, how: str) -> None:
    """Both readers gone (pipes), or both descriptors closed before the start (`>&- 2>&-`):
    only the exit code and the summary file remain, and they agree."""
    script = _script(tmp_path, "3s", ', "http_reqs": ["count<1"]')
    summary = tmp_path / "summary.json"
    with CountingTarget() as target, ray_marker() as marker:
        args = [
            "run",
            script,
            "-e",
            f"URL={target.url}",
            "--actors",
            "1",
            "--no-preflight",
            "--summary-export",
            str(summary),
            "-e",
            "PRINT=1",
        ]
        if how == "pipes":
            proc = start_cli(*args, marker=marker)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        else:
            proc = start_cli(
                *args,
                marker=marker,
                stdout=None,
                stderr=None,
                preexec_fn=_close_stdout_and_stderr,
            )
        data = _checked_end(
            proc, target, marker, summary, exitcodes.THRESHOLDS_FAILED, "threshold crossed"
        )
        assert target.hits > 0
        notes = " ".join(data["veza_ray"]["outcome"]["notes"])
        assert "stdout was closed" in notes and "stderr was closed" in notes


@pytest.mark.parametrize("command", ["inspect", "inspect-json", "report"])
def test_commands_that_print_keep_their_code_on_a_closed_stdout(
    tmp_path: Path, command: str
) -> None:
    script = _script(tmp_path)
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps({"metrics": {}, "veza_ray": {}}))
    args = {
        "inspect": ["inspect", script, "-e", "URL=http://127.0.0.1:9"],
        "inspect-json": ["inspect", script, "-e", "URL=http://127.0.0.1:9", "--json"],
        "report": ["report", str(saved)],
    }[command]
    with ray_marker() as marker:
        proc = start_cli(*args, marker=marker)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.wait()
        assert proc.returncode == exitcodes.OK, stderr
        assert "stdout was closed by its reader" in stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr


# ---- submit ------------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.ray
@pytest.mark.parametrize("stdout_closed", [False, True])
def test_sighup_on_the_submitting_side_stops_the_job(tmp_path: Path, stdout_closed: bool) -> None:
    """`veza-ray submit` to a local head (with its Jobs API) whose terminal closes: the
    job is stopped, the summary of what ran comes back, 105; the same when the reader of
    submit's stdout (where the job's log is shown) left at the start."""
    import secrets

    import psutil

    job_dir = tmp_path / "job"
    job_dir.mkdir()
    script = write_script(job_dir, RUN % {"duration": "30s", "extra": ""})
    summary = tmp_path / "summary.json"
    gcs, dash, client, agent = _free_ports(4)
    with CountingTarget() as target, ray_marker() as marker:
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        env = {**os.environ, **auth, "RAY_TMPDIR": marker}
        env.pop("RAY_ADDRESS", None)
        head = subprocess.run(
            [
                "ray",
                "start",
                "--head",
                f"--port={gcs}",
                "--num-cpus=2",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash}",
                f"--ray-client-server-port={client}",
                f"--dashboard-agent-listen-port={agent}",
                "--disable-usage-stats",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        try:
            assert head.returncode == 0, head.stderr[-3000:]
            # With stdout closed, the job's progress lines (every 0.5 s) hit the closed pipe.
            shown = ["--log-interval", "0.5"] if stdout_closed else ["--quiet"]
            proc = start_cli(
                "submit",
                script,
                "--address",
                f"http://127.0.0.1:{dash}",
                "-e",
                f"URL={target.url}",
                "--actors",
                "1",
                "--no-preflight",
                *shown,
                "--summary-export",
                str(summary),
                marker=marker,
                env_extra=auth,
            )
            seen: list[str] = []
            if stdout_closed:
                assert proc.stdout is not None and proc.stderr is not None
                proc.stdout.close()
                read_until(proc.stderr, "stdout was closed by its reader", seen)
            wait_first_hit(target, proc)
            proc.send_signal(signal.SIGHUP)
            _, rest = proc.communicate()
            stderr = "".join(seen) + rest
            at_exit = target.hits
            assert proc.returncode == exitcodes.EXTERNAL_ABORT, stderr[-3000:]
            assert "stopping Ray Job" in stderr and "ended STOPPED" in stderr
            outcome = json.loads(summary.read_text())["veza_ray"]["outcome"]
            assert outcome["code"] == exitcodes.EXTERNAL_ABORT
            assert any(r.startswith("stopped by SIGTERM") for r in outcome["reasons"])
            assert [p for p in leftovers(marker) if "LoadActor" in p] == []
            assert target.settled_hits() == at_exit
        finally:
            for p in psutil.process_iter():  # our head only: never `ray stop` (host-wide)
                try:
                    if p.environ().get("RAY_TMPDIR") == marker:
                        p.kill()
                except psutil.Error:
                    continue
