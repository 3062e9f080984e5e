"""A real three-node Ray cluster in network namespaces: STRICT_SPREAD lands on three hosts.

Needs root and `ip netns`; skipped with the reason otherwise. No timing assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from netns import NetnsCluster  # tests/ is on sys.path (conftest.py)
from requires import requires

# Its driver starts Ray inside the namespaced head.
pytestmark = [requires("netns"), pytest.mark.ray, pytest.mark.slow]


# Runs inside vzr-head: one actor per bundle of a STRICT_SPREAD group, each reports its node.
DRIVER = textwrap.dedent(
    """
    import json, os
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Where:
        def where(self):
            return {
                "node_id": ray.get_runtime_context().get_node_id(),
                "ip": ray.util.get_node_ip_address(),
            }

    pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    ray.get(pg.ready(), timeout=120)
    actors = [
        Where.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=pg, placement_group_bundle_index=i
            )
        ).remote()
        for i in range(3)
    ]
    places = ray.get([a.where.remote() for a in actors], timeout=120)
    print("PLACES " + json.dumps(places))
    remove_placement_group(pg)
    ray.shutdown()
    """
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    with NetnsCluster(workers=2) as c:
        yield c


def test_nodes_alive(cluster: NetnsCluster) -> None:
    alive = sorted(n.ip for n in cluster.nodes() if n.alive)
    assert alive == sorted([cluster.head_ip, *cluster.worker_ips])


def test_strict_spread_places_one_actor_per_host(cluster: NetnsCluster) -> None:
    proc = cluster.call_in("vzr-head", [sys.executable, "-c", DRIVER], timeout_s=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PLACES ")]
    assert lines, proc.stdout + proc.stderr[-3000:]
    places = json.loads(lines[-1].removeprefix("PLACES "))
    ips = sorted(p["ip"] for p in places)
    assert ips == sorted([cluster.head_ip, *cluster.worker_ips])
    assert len({p["node_id"] for p in places}) == 3


def test_driver_without_the_token_is_refused(cluster: NetnsCluster) -> None:
    """Token auth is really on: a driver with a wrong token cannot connect."""
    code = (
        "import os, ray\n"
        "try:\n"
        "    ray.init(address=os.environ['RAY_ADDRESS'], log_to_driver=False)\n"
        "except Exception as e:\n"
        "    print('REFUSED', type(e).__name__)\n"
        "else:\n"
        "    print('CONNECTED')\n"
    )
    env = {**os.environ}
    proc = cluster.run_in(
        "vzr-head",
        ["env", "RAY_AUTH_TOKEN=" + "0" * 64, sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=180)
    assert "REFUSED" in out, out + err[-2000:]


def test_killed_and_cut_workers_are_seen_dead(cluster: NetnsCluster) -> None:
    """Last on purpose: it takes both workers away from the module's cluster."""
    cluster.kill_node(1)
    cluster.wait_node(cluster.worker_ips[0], alive=False, timeout_s=120)
    cluster.cut_node(2)
    cluster.wait_node(cluster.worker_ips[1], alive=False, timeout_s=120)
    alive = [n.ip for n in cluster.nodes() if n.alive]
    assert alive == [cluster.head_ip]
