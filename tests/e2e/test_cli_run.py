"""`veza-ray run` as a subprocess on a real local Ray cluster against a real server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli import CLI
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

TWO_SCENARIOS = """
from veza_ray import check, env

options = {
    "scenarios": {
        "fast": {"executor": "constant-vus", "vus": 3, "duration": "4s", "exec": "fast"},
        "slow": {"executor": "constant-vus", "vus": 3, "duration": "4s", "exec": "slow"},
    },
    "thresholds": {
        # Wide: a busy machine adds latency; what the server controls is checked below.
        "http_req_duration{scenario:slow}": ["p(95)<5000"],
        "http_req_duration{scenario:fast}": ["p(95)<5000"],
        "http_req_failed": ["rate<0.01"],
        "checks": ["rate==1"],
        "iterations": ["count>10"],
        %(extra)s
    },
}

async def fast(vu):
    r = await vu.http.get(env("URL") + "/fast", tags={"name": "fast"})
    check(r, {"fast 200": lambda r: r.status == 200})

async def slow(vu):
    r = await vu.http.get(env("URL") + "/slow", tags={"name": "slow"})
    check(r, {"slow 200": lambda r: r.status == 200})
"""


def test_three_actors_merge_exactly(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(tmp_path, TWO_SCENARIOS % {"extra": ""})
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "3",
        "-e",
        f"URL={known_server.url}",
        "--summary-export",
        str(out),
        "--quiet",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    summary = json.loads(out.read_text())
    metrics = summary["metrics"]
    assert metrics["http_reqs"]["values"]["count"] == known_server.total
    assert known_server.counts["slow"] > 0 and known_server.counts["fast"] > 0
    # The server holds every /slow answer 200 ms: nothing is faster, the order is kept
    slow = metrics["http_req_duration{scenario:slow}"]["values"]
    assert 200.0 <= slow["min"] <= slow["med"] <= slow["p(95)"] <= slow["max"]
    assert metrics["http_req_duration{scenario:slow}"]["thresholds"] == {"p(95)<5000": {"ok": True}}
    assert metrics["checks"]["values"]["fails"] == 0
    assert len(summary["veza_ray"]["actors"]) == 3
    dist = summary["veza_ray"]["distributions"]["slow"]["quantiles"]
    assert 200.0 <= dist["p(50)"] <= dist["p(99)"]
    assert {v["metric_key"] for v in summary["veza_ray"]["verdicts"]} >= {"http_req_failed"}
    assert sum(a["vus"]["fast"] for a in summary["veza_ray"]["actors"]) == 3
    assert [c["name"] for c in summary["root_group"]["checks"]] == [
        "fast 200",
        "slow 200",
    ] or sorted(c["name"] for c in summary["root_group"]["checks"]) == ["fast 200", "slow 200"]
    assert "✓ http_req_duration{scenario:slow}" in res.stdout


def test_crossed_threshold_exits_99(tmp_path: Path, known_server: KnownServer) -> None:
    extra = '"http_req_duration{scenario:slow} ": ["p(95)<100"],'
    script = write_script(tmp_path, TWO_SCENARIOS % {"extra": extra})
    res = veza(
        "run", script, "--actors", "2", "-e", f"URL={known_server.url}", "--log-interval", "1"
    )
    assert res.returncode == 99, res.stderr
    assert "✗ http_req_duration{scenario:slow}" in res.stdout
    # Not a terminal: plain progress lines, one per scenario per interval, with verdicts
    progress = [ln for ln in res.stderr.splitlines() if "] slow: " in ln]
    assert len(progress) >= 3
    assert "req/s" in progress[-1] and "p95=" in progress[-1]
    assert "✗ http_req_duration{scenario:slow}" in res.stderr and "p(95)<100" in res.stderr
    assert known_server.total > 0


def test_abort_on_fail_stops_early(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(
        tmp_path,
        """
        from veza_ray import env
        options = {
            "scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "60s"}},
            "thresholds": {"http_req_duration": [
                {"threshold": "p(95)<50", "abortOnFail": True, "delayAbortEval": "1s"}]},
        }
        async def default(vu):
            await vu.http.get(env("URL") + "/slow")
        """,
    )
    out = tmp_path / "s.json"
    res = veza(
        "run",
        script,
        "--actors",
        "1",
        "-e",
        f"URL={known_server.url}",
        "--quiet",
        "--summary-export",
        str(out),
    )
    assert res.returncode == 99, res.stderr
    assert "abortOnFail" in res.stderr
    summary = json.loads(out.read_text())
    # 2 VUs x 5 req/s for 60 s would be ~600 requests; an early abort sends far fewer.
    assert summary["metrics"]["http_reqs"]["values"]["count"] < 150


def test_sigint_stops_gracefully_exit_105(tmp_path: Path, known_server: KnownServer) -> None:
    script = write_script(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "120s"}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast")
        """,
    )
    out = tmp_path / "s.json"
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            script,
            "--actors",
            "1",
            "-e",
            f"URL={known_server.url}",
            "--summary-export",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):  # bounded: up to 60 s for Ray to start and load to arrive
        if known_server.counts["fast"] > 20 or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 105, stderr
    summary = json.loads(out.read_text())
    served = known_server.counts["fast"]
    assert summary["metrics"]["http_reqs"]["values"]["count"] == served
    assert "http_reqs" in stdout


def test_handle_summary_writes_files(tmp_path: Path, known_server: KnownServer) -> None:
    target = tmp_path / "k6-summary.json"
    script = write_script(
        tmp_path,
        f"""
        import json
        from veza_ray import env
        options = {{"scenarios": {{"s": {{"executor": "shared-iterations", "vus": 2,
                    "iterations": 10}}}}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast")
        def handle_summary(data):
            return {{"stdout": "custom summary\\n", {str(target)!r}: json.dumps(data)}}
        """,
    )
    res = veza("run", script, "--actors", "2", "-e", f"URL={known_server.url}", "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "custom summary"
    data = json.loads(target.read_text())
    assert data["metrics"]["iterations"]["values"]["count"] == 10
    assert known_server.counts["fast"] == 10
