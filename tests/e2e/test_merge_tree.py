"""The merge tree on a real local Ray: an aggregator killed while its actors live.

The node is alive, so its actors must not be lost: the driver pulls them directly from
then on, says so, and the run completes (exit 0). What the aggregator held of its last
round is gone with it, so the merged count may fall short of what the server saw by at
most about one round, never exceed it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from cli import CLI
from servers import KnownServer, write_script

pytestmark = pytest.mark.ray

STEADY = """
from veza_ray import env, sleep
options = {"scenarios": {"steady": {"executor": "constant-vus", "vus": 4, "duration": "8s"}}}
async def default(vu):
    await vu.http.get(env("URL") + "/fast", tags={"name": "fast"})
    await sleep(0.05)
"""


def _aggregator(proc: subprocess.Popen[str]) -> psutil.Process | None:
    """The aggregator among this run's own processes (Ray titles an actor's process)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if any("NodeAggregator" in part for part in child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_a_killed_aggregator_hands_its_node_back_to_direct_pulls(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(tmp_path, STEADY)
    out = tmp_path / "summary.json"
    proc = subprocess.Popen(
        [
            *CLI, "run", script, "--actors", "2",
            "--merge-tree", "on", "-e", f"URL={known_server.url}", "--no-preflight",
            "--summary-export", str(out), "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    victim = None
    for _ in range(1200):  # bounded: 120 s for Ray, the actors and the first requests
        victim = _aggregator(proc)
        if (victim is not None and known_server.total >= 50) or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert victim is not None, "no aggregator process found"
    victim.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)  # a hang guard, not a performance limit
    assert proc.returncode == 0, stderr[-3000:]
    assert "aggregator of node" in stderr and "pulled directly" in stderr
    summary = json.loads(out.read_text())
    (node,) = summary["veza_ray"]["nodes"]
    assert node["aggregator"]["status"].startswith("lost (")
    assert summary["veza_ray"]["lost_actors"] == []
    merged = summary["metrics"]["http_reqs"]["values"]["count"]
    served = known_server.total
    # 4 VUs at ~15 requests/s each for 8 s: one round of the node is ~60 requests.
    assert served - 150 <= merged <= served, (merged, served)
