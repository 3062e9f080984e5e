"""The driver's pure parts: placement refusals, resumed segments, losses, generator health,
and pulls as the driver decodes and merges them (no Ray running)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from veza_ray.cluster.actor import LoadActor
from veza_ray.cluster.fleet import PlacementError, PlacementRequest, plan_placement, resume_segments
from veza_ray.core.digest import BINARY_FORMAT, DELTA_MAX_CENTROIDS
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.core.metrics import MetricStore, TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.wire import decode_delta, encode_delta


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


def _delta(lag: float, cpu: float, wall: float = 0.0, errors: Any = None) -> Any:
    return {
        "series": [],
        "scenarios": {
            "c": {"active": 2, "allocated": 2, "iterations": 5, "dropped": 0, "undelivered": 0}
        },
        "errors": errors or {},
        "lag_ms": [lag],
        "cpu": cpu,
        "wall": wall,
        "done": False,
        "started": True,
        "end": None,
    }


def _two_actor_run() -> MergedRun:
    opts = _opts()
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, 2))
    for i in range(2):
        run.add_actor(i, {"node_id": f"n{i}", "address": f"10.0.0.{i}", "pid": 1}, run.plan[i])
    return run


def test_generator_health_flags_saturated_actors_by_name() -> None:
    run = _two_actor_run()
    for k in range(11):  # 10 one-second intervals after the first pull
        run.merge(0, _delta(2.0, 0.3, float(k)))
        run.merge(1, _delta(80.0 if 2 <= k < 5 else 1.0, 0.5, float(k)))  # 3 s of 10 late
    health = run.generator_health()
    assert health["saturated"] is True
    assert [a["id"] for a in health["actors"]] == [1]
    assert health["actors"][0]["address"] == "10.0.0.1"
    assert health["actors"][0]["saturated_s"] == pytest.approx(3.0)
    assert health["actors"][0]["saturated_share"] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("walls", "lags", "saturated"),
    [
        # A loop blocked 5 s answers one pull: it counts as 5 s of 10, not 1 interval of 6.
        ([0, 1, 2, 7, 8, 9, 10], [1, 1, 1, 4900, 1, 1, 1], True),
        # One 1-s start-up hiccup in a short run is not saturation (under SATURATED_MIN_S).
        ([0, 1, 2, 3, 4], [1, 120, 1, 1, 1], False),
        # Late in 1 of 20 seconds: 5 %, under SATURATED_SHARE.
        (list(range(21)), [1] * 5 + [300] + [1] * 15, False),
    ],
)
def test_saturation_weighs_intervals_by_time(
    walls: list[int], lags: list[float], saturated: bool
) -> None:
    run = _two_actor_run()
    for wall, lag in zip(walls, lags, strict=True):
        run.merge(0, _delta(lag, 0.2, float(wall)))
    assert run.generator_health()["saturated"] is saturated


def test_a_pegged_core_with_timers_on_time_is_busy_not_saturated() -> None:
    run = _two_actor_run()
    for k in range(11):
        run.merge(0, _delta(3.0, 0.99, float(k)))
    health = run.generator_health()
    assert health["saturated"] is False
    assert [a["id"] for a in health["busy_actors"]] == [0]


def test_distinct_error_messages_are_capped_cluster_wide() -> None:
    from veza_ray.core.wire import MAX_ERROR_MESSAGES, OTHER_ERRORS

    run = _two_actor_run()
    for actor in range(2):
        errors = {f"actor {actor} error {n}": 2 for n in range(MAX_ERROR_MESSAGES)}
        run.merge(actor, _delta(1.0, 0.1, 1.0, errors))
    assert len(run.errors) == MAX_ERROR_MESSAGES + 1
    assert run.errors[OTHER_ERRORS] == 2 * MAX_ERROR_MESSAGES
    assert sum(run.errors.values()) == 4 * MAX_ERROR_MESSAGES


def test_lease_expiry_is_undelivered_load() -> None:
    opts = parse_options(
        {
            "scenarios": {
                "c": {"executor": "constant-vus", "vus": 4, "duration": "10s"},
                "s": {"executor": "shared-iterations", "vus": 2, "iterations": 100},
            }
        }
    )
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, 2))
    for i in range(2):
        run.add_actor(i, {"node_id": "n", "address": "10.0.0.1", "pid": i}, run.plan[i])
    start = 1000.0
    ended = _delta(1.0, 0.1, start + 4.0)
    ended["end"] = {"reason": "lease", "at": start + 4.0}
    ended["scenarios"]["s"] = {
        "active": 0,
        "allocated": 1,
        "iterations": 20,
        "dropped": 0,
        "undelivered": 30,
    }
    run.merge(0, ended)
    fine = _delta(1.0, 0.1, start + 10.0)
    fine["end"] = {"reason": "plan", "at": start + 10.0}
    run.merge(1, fine)
    cut = run.cut_short(10.0, start)
    assert [(c["actor"], c["at_s"]) for c in cut] == [(0, 4.0)]
    assert "lease expired" in cut[0]["why"]
    # Actor 0 had 2 of the 4 constant VUs: 6 s of them were not delivered; the
    # shared-iterations segment is counted in iterations, not in VU-seconds.
    assert run.undelivered_vu_seconds(cut) == pytest.approx(2 * 6.0)
    assert run.undelivered_iterations(cut) == 30


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


# --------------------------------------------------------------------------- pulls and merges


def _one_scenario_run(actors: int) -> MergedRun:
    opts = parse_options(
        {"scenarios": {"c": {"executor": "constant-vus", "vus": actors, "duration": "10s"}}}
    )
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, actors))
    for i in range(actors):
        run.add_actor(i, {"node_id": "n", "address": "10.0.0.1", "pid": i}, run.plan[i])
    return run


def _pull(values: np.ndarray, binary: bool) -> bytes:
    """What LoadActor.pull returns for an actor that measured ``values`` this interval."""
    store = MetricStore(BUILTIN_METRICS, DELTA_MAX_CENTROIDS)
    store.binary_digests = binary
    sink = store.sink("http_req_duration", (("name", "x"), ("scenario", "c")))
    assert isinstance(sink, TrendSink)
    sink.buffer.extend(values.tolist())
    store.sink("http_reqs", (("name", "x"), ("scenario", "c"))).add(float(values.size))
    return encode_delta({**_delta(1.0, 0.1), "series": store.drain()})


def test_driver_rounds_are_exact_and_accurate_against_numpy() -> None:
    """64 actors, 3 pulls, as the driver does them (decode, merge each, close_interval):
    cumulative count/sum/min/max exact; cumulative and per-interval p95/p99 within 1 %."""
    rng = np.random.default_rng(11)
    run = _one_scenario_run(64)
    seen = []
    for rnd in range(3):
        raw = [rng.lognormal(3.0, 0.6, 400) for _ in range(64)]
        for i, values in enumerate(raw):
            run.merge(i, decode_delta(_pull(values, binary=rnd != 1)))
        run.close_interval(float(rnd + 1), 1.0)
        this = np.concatenate(raw)
        seen.append(this)
        point = run.series[-1]["scenarios"]["c"]
        assert point["reqs"] == float(this.size)
        assert point["p95"] == pytest.approx(np.quantile(this, 0.95), rel=0.01)
        assert point["p99"] == pytest.approx(np.quantile(this, 0.99), rel=0.01)
    every = np.concatenate(seen)
    sink = run.total.aggregate("http_req_duration", (("scenario", "c"),))
    assert isinstance(sink, TrendSink)
    d = sink.digest
    assert (d.count, d.min, d.max) == (every.size, float(every.min()), float(every.max()))
    assert d.sum == pytest.approx(math.fsum(every.tolist()), rel=1e-12)
    for q in (0.5, 0.95, 0.99, 0.999):
        assert d.quantile(q) == pytest.approx(np.quantile(every, q), rel=0.01)


def test_driver_refuses_an_older_actor_by_name() -> None:
    """An actor from before wire version 2 answered a pull with orjson bytes of v1 dicts."""
    run = _one_scenario_run(1)
    old = {
        **_delta(1.0, 0.1),
        "series": [
            {
                "m": "http_req_duration",
                "t": [["scenario", "c"]],
                "s": {
                    "digest": {
                        "v": 1,
                        "max_centroids": 200,
                        "count": 1,
                        "sum": 1.0,
                        "min": 1.0,
                        "max": 1.0,
                        "centroids": [{"m": 1.0, "c": 1.0}],
                    }
                },
            }
        ],
    }
    with pytest.raises(ValueError, match=r"version 1 is not \d+: the actor runs an older veza-ray"):
        run.merge(0, decode_delta(orjson.dumps(old)))


def test_actor_pull_sends_bytes_only_to_a_driver_that_reads_them(tmp_path: Path) -> None:
    """The driver names its fastdigest format in the pull; any other answer (an older or
    newer fastdigest, or no format at all) gets the portable dict form, which still merges."""
    script = tmp_path / "scenario.py"
    source = (
        'options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 1, "duration": "1s"}}}\n'
        "async def default(vu):\n    pass\n"
    )
    script.write_text(source)
    opts = parse_options(
        {"scenarios": {"c": {"executor": "constant-vus", "vus": 1, "duration": "1s"}}}
    )
    segments = [s.to_wire() for s in make_plan(opts.scenarios, 1)[0]]
    actor = LoadActor(0, str(script), source, {}, segments)
    run = _one_scenario_run(1)
    tags = (("name", "x"), ("scenario", "c"))
    for fmt, binary in (
        (BINARY_FORMAT, bool(BINARY_FORMAT)),
        ("fastdigest 0.0.1", False),
        ("", False),
    ):
        sink = actor.runner.store.sink("http_req_duration", tags)
        for v in (1.0, 2.0, 3.0):
            sink.add(v)
        delta = decode_delta(asyncio.run(actor.pull(fmt)))
        (item,) = [s for s in delta["series"] if s["m"] == "http_req_duration"]
        wire = item["s"]["digest"]
        assert ("bin" in wire) is binary, fmt
        assert (wire["centroids"] == []) is binary, fmt
        run.merge(0, delta)
    merged = run.total.aggregate("http_req_duration")
    assert isinstance(merged, TrendSink)
    assert (merged.digest.count, merged.digest.sum) == (9, 18.0)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"end": "plan"}, "'end' as str"),
        ({"cpu": True}, "'cpu' as bool"),
        ({"series": None}, "'series' as NoneType"),
    ],
)
def test_a_pull_of_the_wrong_shape_is_refused_by_name(change: dict[str, Any], words: str) -> None:
    bad = {**_delta(1.0, 0.1), **change}
    with pytest.raises(ValueError, match=words):
        decode_delta(encode_delta(bad))
    missing = _delta(1.0, 0.1)
    del missing["end"]
    with pytest.raises(ValueError, match="has no 'end'"):
        decode_delta(encode_delta(missing))
