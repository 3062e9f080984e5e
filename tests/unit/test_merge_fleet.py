"""The driver's pure parts: placement refusals, resumed segments, losses, generator health."""

from __future__ import annotations

from typing import Any

import pytest

from veza_ray.fleet import PlacementError, PlacementRequest, plan_placement, resume_segments
from veza_ray.merge import MergedRun
from veza_ray.metric_types import BUILTIN_METRICS
from veza_ray.options import parse_options
from veza_ray.plan import make_plan


def _nodes(*cpus: float) -> list[dict[str, Any]]:
    return [
        {
            "NodeID": f"n{i}",
            "NodeManagerAddress": f"10.0.0.{i}",
            "Alive": True,
            "Resources": {"CPU": c},
        }
        for i, c in enumerate(cpus)
    ]


def test_strict_spread_needs_a_node_per_actor() -> None:
    with pytest.raises(PlacementError, match="4 actors need 4 nodes, the cluster has 3"):
        plan_placement(_nodes(2, 2, 2), PlacementRequest(4, "strict"))
    assert plan_placement(_nodes(1, 1, 1), PlacementRequest(3, "strict"))[:2] == (
        3,
        "STRICT_SPREAD",
    )


def test_spread_defaults_to_one_actor_per_cpu_and_refuses_more() -> None:
    assert plan_placement(_nodes(2, 4), PlacementRequest(None))[:2] == (6, "SPREAD")
    with pytest.raises(PlacementError, match="--actors 7 needs 7 CPUs"):
        plan_placement(_nodes(2, 4), PlacementRequest(7))


def test_actors_per_node_pins_n_per_node() -> None:
    n, kind, ids = plan_placement(_nodes(2, 2), PlacementRequest(None, actors_per_node=2))
    assert (n, kind, ids) == (4, "NODE", ["n0", "n0", "n1", "n1"])
    with pytest.raises(PlacementError, match=r"10\.0\.0\.1 offer fewer"):
        plan_placement(_nodes(2, 1), PlacementRequest(None, actors_per_node=2))


def _opts() -> Any:
    return parse_options(
        {
            "scenarios": {
                "c": {"executor": "constant-vus", "vus": 4, "duration": "10s"},
                "s": {"executor": "shared-iterations", "vus": 2, "iterations": 100},
                "p": {"executor": "per-vu-iterations", "vus": 2, "iterations": 10},
            }
        }
    )


def test_resume_subtracts_done_iterations() -> None:
    opts = _opts()
    seg = make_plan(opts.scenarios, 2)[0]
    executors = {sc.name: sc.executor for sc in opts.scenarios}
    out = {s.scenario: s for s in resume_segments(seg, {"s": 30, "p": 6, "c": 99}, executors)}
    assert out["s"].iterations == 50 - 30
    assert out["p"].iterations == 10 - 6 // 1
    assert out["c"] == next(s for s in seg if s.scenario == "c")


def _delta(lag: float, cpu: float) -> Any:
    return {
        "series": [],
        "scenarios": {"c": {"active": 2, "allocated": 2, "iterations": 5, "dropped": 0}},
        "errors": {},
        "lag_ms": [lag],
        "cpu": cpu,
        "wall": 0.0,
        "done": False,
        "started": True,
    }


def test_generator_health_flags_saturated_actors_by_name() -> None:
    opts = _opts()
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, 2))
    for i in range(2):
        run.add_actor(i, {"node_id": f"n{i}", "address": f"10.0.0.{i}", "pid": 1}, run.plan[i])
    for k in range(10):
        run.merge(0, _delta(2.0, 0.3))
        run.merge(1, _delta(80.0 if k < 2 else 1.0, 0.5))  # 20 % of intervals lagging
    health = run.generator_health()
    assert health["saturated"] is True
    assert [a["id"] for a in health["actors"]] == [1]
    assert health["actors"][0]["address"] == "10.0.0.1"


def test_lost_vu_seconds_counts_the_gap_only() -> None:
    opts = parse_options(
        {"scenarios": {"c": {"executor": "constant-vus", "vus": 4, "duration": "10s"}}}
    )
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, 2))
    run.add_actor(0, {"node_id": "a", "address": "x", "pid": 1}, run.plan[0])
    run.lose(0, 4.0, "gone")
    assert run.lost_vu_seconds() == pytest.approx(2 * 6.0)
    run.replaced(0, 2, 5.5)
    assert run.lost_vu_seconds() == pytest.approx(2 * 1.5)
