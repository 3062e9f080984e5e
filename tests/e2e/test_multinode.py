"""veza-ray on a real three-node Ray cluster built from network namespaces.

Head and two workers each have their own address; the target (the Veza emulator) runs
in its own namespace. The driver runs inside the head's namespace. Load goes only to
the target's namespace address, which the test creates and removes. Needs root and
`ip netns`; skipped with the reason otherwise. No timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli import CLI
from netns import NetnsCluster, counting_target
from requires import requires

pytestmark = [requires("netns"), pytest.mark.ray, pytest.mark.slow]

PORT = 8080


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    with NetnsCluster(workers=2) as c, counting_target(c, PORT):
        yield c


def _url(c: NetnsCluster) -> str:
    return f"http://{c.target_ip}:{PORT}"


def _stats(c: NetnsCluster) -> dict[str, Any]:
    with urllib.request.urlopen(_url(c) + "/__stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def _reset(c: NetnsCluster) -> None:
    req = urllib.request.Request(_url(c) + "/__reset", method="POST")
    urllib.request.urlopen(req, timeout=5).close()


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


def _start(c: NetnsCluster, script: str, *flags: str, out: Path) -> subprocess.Popen[str]:
    return c.run_in(
        "head",
        [
            *CLI,
            "run",
            script,
            "-e",
            f"BASE_URL={_url(c)}",
            "--allow-host",
            c.target_ip,
            "--summary-export",
            str(out),
            "--log-interval",
            "2",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)  # a hang guard, not a performance limit
    return proc.returncode, out, err


def _wait_served(c: NetnsCluster, count: int) -> None:
    for _ in range(1200):  # bounded: 120 s
        if _stats(c)["total"] >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the target never served {count} requests")


STEADY = """
import asyncio
from veza_ray import env, sleep
BASE = env("BASE_URL")
options = {
    "scenarios": {
        "steady": {"executor": "constant-vus", "vus": 6, "duration": env("DURATION", "6s"),
                   "exec": "steady", "gracefulStop": "2s"},
        %(extra_scenarios)s
    },
    "thresholds": {%(thresholds)s},
}
async def steady(vu):
    await vu.http.get(BASE + "/api/v1/tracks?page=1&limit=5", tags={"name": "list"})
    await sleep(0.1)
async def batch(vu):
    await vu.http.get(BASE + "/api/v1/search?q=rock", tags={"name": "search"})
"""


def test_strict_spread_one_actor_per_node_and_cluster_wide_count(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    script = _script(
        tmp_path,
        STEADY
        % {
            "extra_scenarios": '"batch": {"executor": "shared-iterations", "vus": 3, '
            '"iterations": 300, "exec": "batch"},',
            "thresholds": '"iterations{scenario:batch}": ["count==300"], '
            '"http_req_failed": ["rate==0"]',
        },
    )
    _reset(cluster)
    out = tmp_path / "summary.json"
    code, _, stderr = _finish(
        _start(cluster, script, "--actors", "3", "--spread", "strict", out=out)
    )
    assert code == 0, stderr[-3000:]
    summary = json.loads(out.read_text())
    nodes = summary["veza_ray"]["nodes"]
    assert sorted(n["address"] for n in nodes) == sorted([cluster.head_ip, *cluster.worker_ips])
    assert all(len(n["actors"]) == 1 for n in nodes)
    served = _stats(cluster)["total"]
    assert summary["metrics"]["http_reqs"]["values"]["count"] == served
    assert summary["metrics"]["iterations{scenario:batch}"]["values"]["count"] == 300
    assert summary["metrics"]["iterations{scenario:batch}"]["thresholds"] == {
        "count==300": {"ok": True}
    }
    # each actor ran its own third of the batch: no single actor could meet count==300
    assert "3 actor(s) on 3 node(s)" in stderr


def test_strict_spread_refuses_more_actors_than_nodes(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    script = _script(tmp_path, STEADY % {"extra_scenarios": "", "thresholds": ""})
    _reset(cluster)
    code, _, stderr = _finish(
        _start(cluster, script, "--actors", "4", "--spread", "strict", out=tmp_path / "s.json")
    )
    assert code == 111
    assert "--spread strict" in stderr and "4 actors need 4 nodes" in stderr
    assert _stats(cluster)["total"] == 0


def test_abort_on_fail_stops_all_nodes_early(cluster: NetnsCluster, tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        STEADY
        % {
            "extra_scenarios": "",
            "thresholds": '"http_reqs": [{"threshold": "count<100", "abortOnFail": true}]'.replace(
                "true", "True"
            ),
        },
    )
    _reset(cluster)
    out = tmp_path / "summary.json"
    proc = _start(
        cluster, script, "--actors", "3", "--spread", "strict", "-e", "DURATION=60s", out=out
    )
    code, _, stderr = _finish(proc)
    assert code == 99, stderr[-3000:]
    assert "abortOnFail" in stderr
    summary = json.loads(out.read_text())
    # 6 VUs at ~10 iterations/s for 60 s would be ~3600 requests
    assert summary["metrics"]["http_reqs"]["values"]["count"] < 1500
    cluster.wait_run_ended()  # no load actor is left on any node: none still sends


def test_killed_driver_leaves_no_load(cluster: NetnsCluster, tmp_path: Path) -> None:
    script = _script(tmp_path, STEADY % {"extra_scenarios": "", "thresholds": ""})
    _reset(cluster)
    proc = _start(cluster, script, "--actors", "3", "-e", "DURATION=120s", out=tmp_path / "s.json")
    _wait_served(cluster, 100)
    proc.kill()
    proc.communicate(timeout=60)
    # Ray reaps a dead driver's actors: wait (bounded) for that, then no node sends
    cluster.wait_run_ended()


def test_sigint_stops_every_node_and_writes_the_summary(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    script = _script(tmp_path, STEADY % {"extra_scenarios": "", "thresholds": ""})
    _reset(cluster)
    out = tmp_path / "summary.json"
    proc = _start(cluster, script, "--actors", "3", "-e", "DURATION=120s", out=out)
    _wait_served(cluster, 100)
    proc.send_signal(2)
    code, _, stderr = _finish(proc)
    assert code == 105, stderr[-3000:]
    summary = json.loads(out.read_text())
    cluster.wait_run_ended()
    assert summary["metrics"]["http_reqs"]["values"]["count"] == _stats(cluster)["total"]


def test_killed_node_exits_103_and_keeps_what_it_measured(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    script = _script(tmp_path, STEADY % {"extra_scenarios": "", "thresholds": ""})
    _reset(cluster)
    out = tmp_path / "summary.json"
    proc = _start(
        cluster, script, "--actors", "3", "--spread", "strict", "-e", "DURATION=20s", out=out
    )
    _wait_served(cluster, 300)
    cluster.kill_node(2)
    code, _, stderr = _finish(proc)
    assert code == 103, stderr[-3000:]
    assert "lost actor" in stderr and "VU-seconds" in stderr
    summary = json.loads(out.read_text())["veza_ray"]
    lost = summary["lost_actors"]
    assert [a["address"] for a in lost] == [cluster.worker_ips[1]]
    assert lost[0]["vus"] == {"steady": 2}
    assert summary["lost_vu_seconds"] > 0
    served = _stats(cluster)["total"]
    reported = json.loads(out.read_text())["metrics"]["http_reqs"]["values"]["count"]
    assert reported >= 0.75 * served


def test_replace_lost_runs_the_rest_elsewhere(cluster: NetnsCluster, tmp_path: Path) -> None:
    """After the previous test only the head and worker 1 are alive."""
    script = _script(tmp_path, STEADY % {"extra_scenarios": "", "thresholds": ""})
    _reset(cluster)
    out = tmp_path / "summary.json"
    proc = _start(
        cluster,
        script,
        "--actors",
        "2",
        "--spread",
        "strict",
        "--replace-lost",
        "-e",
        "DURATION=25s",
        out=out,
    )
    _wait_served(cluster, 300)
    cluster.kill_node(1)
    code, _, stderr = _finish(proc)
    assert code == 103, stderr[-3000:]
    assert "takes over the rest" in stderr, stderr[-4000:]
    summary = json.loads(out.read_text())["veza_ray"]
    (lost,) = summary["lost_actors"]
    assert lost["address"] == cluster.worker_ips[0]
    replacement = [a for a in summary["actors"] if a["replaces"] == lost["id"]]
    assert replacement and replacement[0]["address"] == cluster.head_ip
    # after the replacement started, all 6 VUs ran again
    after = [p for p in summary["intervals"] if p["t"] > lost["replaced_at_s"] + 2]
    assert max(p["scenarios"]["steady"]["vus"] for p in after) == 6
