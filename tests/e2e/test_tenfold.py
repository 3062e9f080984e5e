"""The 10-node rehearsal: head + 9 workers (network namespaces, one CPU each), one actor
per node, the merge tree on, a node killed mid-run.

One cluster start and one run, kept short for CI's 2 cores. The target is a small counting
server in the vzr-target namespace that counts requests per source address, and every
request is tagged with its node's address, so each node's merged count is checked
against what the target saw from that node: exact for the nine that lived, never more
for the killed one. Load goes only to the target's namespace address. No timing
assertions; the waits are hang guards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import CLI
from netns import NetnsCluster, counting_target
from requires import requires

pytestmark = [requires("netns"), pytest.mark.ray, pytest.mark.slow]

PORT = 8090
WORKERS = 9
KILLED = 9  # worker index; its node is 10.231.77.19

# Counts GET /hit per source address; /__stats returns {"ip": n}. Run in vzr-target only.
COUNTER = """
import collections, json, sys
from aiohttp import web
counts = collections.Counter()
async def hit(request):
    counts[request.remote] += 1
    return web.Response(text="ok")
async def stats(request):
    return web.Response(text=json.dumps(counts), content_type="application/json")
app = web.Application()
app.router.add_get("/hit", hit)
app.router.add_get("/__stats", stats)
web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), print=None, access_log=None)
"""

SCRIPT = """
import socket
from veza_ray import env, sleep
BASE = env("BASE_URL")
TARGET = %(target)r
# The address the target sees this node's requests come from (a UDP connect sends nothing).
_s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_s.connect((TARGET, 9))
NODE = _s.getsockname()[0]
_s.close()
options = {
    "scenarios": {
        "steady": {"executor": "constant-vus", "vus": 10, "duration": env("DURATION"),
                   "exec": "steady", "gracefulStop": "1s"},
    },
    "thresholds": {%(per_node)s},
}
async def steady(vu):
    await vu.http.get(BASE + "/hit", tags={"name": "hit", "node": NODE})
    await sleep(0.2)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    with (
        NetnsCluster(workers=WORKERS) as c,
        counting_target(c, PORT, [sys.executable, "-c", COUNTER, c.target_ip, str(PORT)]),
    ):
        yield c


def _served(c: NetnsCluster) -> dict[str, int]:
    with urllib.request.urlopen(f"http://{c.target_ip}:{PORT}/__stats", timeout=5) as resp:
        data: dict[str, int] = json.loads(resp.read())
    return data


def test_ten_nodes_merge_tree_and_a_killed_node(cluster: NetnsCluster, tmp_path: Path) -> None:
    ips = [cluster.head_ip, *cluster.worker_ips]
    per_node = ", ".join(f'"http_reqs{{node:{ip}}}": ["count>=0"]' for ip in ips)
    script = tmp_path / "scenario.py"
    script.write_text(textwrap.dedent(SCRIPT % {"target": cluster.target_ip, "per_node": per_node}))
    out = tmp_path / "summary.json"
    proc = cluster.run_in(
        "head",
        [
            *CLI,
            "run",
            str(script),
            "-e",
            f"BASE_URL=http://{cluster.target_ip}:{PORT}",
            "-e",
            "DURATION=14s",
            "--allow-host",
            cluster.target_ip,
            "--no-preflight",
            "--actors-per-node",
            "1",
            "--merge-tree",
            "on",
            "--summary-export",
            str(out),
            "--log-interval",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed_ip = cluster.worker_ips[KILLED - 1]
    for _ in range(1800):  # bounded: 180 s for ten actors to start and the node to send
        if _served(cluster).get(killed_ip, 0) >= 10 or proc.poll() is not None:
            break
        time.sleep(0.1)
    cluster.kill_node(KILLED)
    _, stderr = proc.communicate(timeout=600)  # a hang guard, not a performance limit
    assert proc.returncode == 103, stderr[-4000:]
    served = _served(cluster)
    summary = json.loads(out.read_text())
    vr = summary["veza_ray"]

    # Placement: one actor on every one of the ten nodes, each merged by its aggregator.
    nodes = {n["address"]: n for n in vr["nodes"]}
    assert sorted(nodes) == sorted(ips)
    assert all(len(n["actors"]) == 1 for n in nodes.values())
    for ip, node in nodes.items():
        if ip != killed_ip:
            assert node["aggregator"]["status"] == "in use", node
    assert nodes[killed_ip]["aggregator"]["status"] != "in use"
    assert "10 actor(s) on 10 node(s)" in stderr

    # The killed node's actor is lost and its undelivered load counted.
    assert [a["address"] for a in vr["lost_actors"]] == [killed_ip]
    assert vr["delivery"]["undelivered_vu_seconds"] > 0
    assert "lost actor" in stderr

    # Counts: exact for the nine that lived, never more than served for the killed one.
    metrics = summary["metrics"]
    merged = {ip: metrics[f"http_reqs{{node:{ip}}}"]["values"]["count"] for ip in ips}
    for ip in ips:
        if ip != killed_ip:
            assert merged[ip] == served[ip] > 0, (ip, merged, served)
    assert 0 < merged[killed_ip] <= served[killed_ip]
    assert metrics["http_reqs"]["values"]["count"] == sum(merged.values())
