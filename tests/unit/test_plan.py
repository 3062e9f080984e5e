"""The plan: per-actor segments add up exactly; VU id ranges are disjoint, 1-based, contiguous.

Pure: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.cluster.fleet import resume_segments
from veza_ray.core.options import ScenarioConfig, parse_options
from veza_ray.core.plan import (
    Segment,
    make_plan,
    planned_iterations,
    planned_vu_seconds,
    segment_for,
)


def _scenarios(scenarios: dict) -> tuple[ScenarioConfig, ...]:
    return parse_options({"scenarios": scenarios}).scenarios


def _column(plan: list[list[Segment]], name: str) -> list[Segment]:
    return [seg for actor in plan for seg in actor if seg.scenario == name]


def _id_ranges(plan: list[list[Segment]]) -> list[tuple[int, int]]:
    """(first id, last id + 1) of every segment, sorted by first id."""
    return sorted((s.vu_id_base, s.vu_id_base + s.max_vus) for actor in plan for s in actor)


def _assert_ids_partition(plan: list[list[Segment]]) -> None:
    ranges = _id_ranges(plan)
    expected_start = 1
    for lo, hi in ranges:
        assert lo == expected_start, ranges  # 1-based, no gap, no overlap
        assert hi >= lo
        expected_start = hi


LAUNCH = {
    "upload": {"executor": "constant-vus", "vus": 100, "duration": "10m"},
    "hls": {"executor": "constant-vus", "vus": 500, "duration": "10m"},
    "browse": {
        "executor": "ramping-vus",
        "startVUs": 0,
        "stages": [{"duration": "2m", "target": 1000}, {"duration": "8m", "target": 1000}],
    },
    "checkout": {
        "executor": "constant-arrival-rate",
        "rate": 50,
        "duration": "10m",
        "preAllocatedVUs": 50,
        "maxVUs": 50,
    },
}


def test_thousand_vus_over_three_actors() -> None:
    (sc,) = _scenarios({"a": {"executor": "constant-vus", "vus": 1000, "duration": "1m"}})
    plan = make_plan([sc], 3)
    assert [seg.vus for seg in _column(plan, "a")] == [334, 333, 333]
    assert [seg.max_vus for seg in _column(plan, "a")] == [334, 333, 333]
    assert [(seg.index, seg.count) for seg in _column(plan, "a")] == [(0, 3), (1, 3), (2, 3)]


def _split(executor: str, actors: int, **fields: object) -> list[Segment]:
    (sc,) = _scenarios({"s": {"executor": executor, **fields}})
    return _column(make_plan([sc], actors), "s")


# Shared iterations go in proportion to each actor's VUs (k6's GetIterations re-cuts the
# sequence by the VU count): (vus, iterations, actors) -> (VUs, iterations) per actor.
SHARED_ITERATIONS = [
    # the example, from k6 lib/execution_segment_test.go TestNewExecutionTuple
    # ("0,1/3,2/3,1", GetNewExecutionTupleFromValue(20) then ScaleInt64(50): 18/17/15)
    (20, 50, 3, [7, 7, 6], [18, 17, 15]),
    (10, 300, 3, [4, 3, 3], [120, 90, 90]),
    (2, 7, 4, [1, 1, 0, 0], [4, 3, 0, 0]),
    (1, 6, 3, [1, 0, 0], [6, 0, 0]),  # was 2 of 6 run: VU-less actors held the rest
    (10, 100, 16, [1] * 10 + [0] * 6, [10] * 10 + [0] * 6),
    (3, 3, 7, [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]),
    (7, 10, 7, [1] * 7, [2, 2, 2, 1, 1, 1, 1]),
]


@pytest.mark.parametrize(
    ("vus", "iterations", "actors", "want_vus", "want_iters"), SHARED_ITERATIONS
)
def test_shared_iterations_follow_the_vus(
    vus: int, iterations: int, actors: int, want_vus: list[int], want_iters: list[int]
) -> None:
    segs = _split("shared-iterations", actors, vus=vus, iterations=iterations)
    assert [s.vus for s in segs] == want_vus
    assert [s.iterations for s in segs] == want_iters
    assert sum(s.iterations for s in segs) == iterations


def test_per_vu_iterations_keep_the_per_vu_count() -> None:
    (sc,) = _scenarios({"p": {"executor": "per-vu-iterations", "vus": 5, "iterations": 7}})
    segs = _column(make_plan([sc], 2), "p")
    assert [seg.vus for seg in segs] == [3, 2]
    assert [seg.iterations for seg in segs] == [7, 7]


def test_ramping_vus_splits_the_peak() -> None:
    (sc,) = _scenarios(
        {
            "r": {
                "executor": "ramping-vus",
                "startVUs": 2,
                "stages": [{"duration": "1m", "target": 10}, {"duration": "1m", "target": 4}],
            }
        }
    )
    segs = _column(make_plan([sc], 4), "r")
    assert [seg.max_vus for seg in segs] == [3, 3, 2, 2]


def test_arrival_rate_splits_pre_allocated_and_max() -> None:
    (sc,) = _scenarios(
        {
            "c": {
                "executor": "constant-arrival-rate",
                "rate": 50,
                "duration": "1m",
                "preAllocatedVUs": 10,
                "maxVUs": 20,
            }
        }
    )
    segs = _column(make_plan([sc], 3), "c")
    assert [seg.vus for seg in segs] == [4, 3, 3]
    assert [seg.max_vus for seg in segs] == [7, 7, 6]
    assert all(seg.iterations == 0 for seg in segs)


def test_arrival_rate_actor_with_no_vu_gets_no_rate() -> None:
    """As k6 (HasWork is maxVUs > 0): maxVUs stays a hard cap across the cluster, and the
    iterations go to the actors that hold VUs."""
    (sc,) = _scenarios(
        {
            "c": {
                "executor": "constant-arrival-rate",
                "rate": 5,
                "duration": "1m",
                "preAllocatedVUs": 1,
                "maxVUs": 2,
            }
        }
    )
    plan = make_plan([sc], 3)
    segs = _column(plan, "c")
    assert [seg.vus for seg in segs] == [1, 0, 0]
    assert [seg.max_vus for seg in segs] == [1, 1, 0]
    assert [planned_iterations(sc, s) for s in segs] == [150, 150, 0]
    assert segs[2].stripe == ()
    _assert_ids_partition(plan)


def test_arrival_rate_follows_max_vus() -> None:
    """The issue's example: 50/s with 20 maxVUs on 3 actors is 18/17/15 iterations in the
    first second (k6 re-cuts the sequence by maxVUs: "0,7/20,7/10,1", 7+7+6 of every 20)."""
    for duration, want in (("1s", [18, 17, 15]), ("10s", [175, 175, 150])):
        spec = {"executor": "constant-arrival-rate", "rate": 50, "duration": duration,
                "preAllocatedVUs": 20, "maxVUs": 20}  # fmt: skip
        (sc,) = _scenarios({"s": spec})
        segs = _column(make_plan([sc], 3), "s")
        assert [s.max_vus for s in segs] == [7, 7, 6]
        assert [planned_iterations(sc, s) for s in segs] == want


# More actors than VUs, every executor: (executor fields, actors, VUs per actor,
# iterations each actor plans). Actors with no VU plan nothing; the totals are k6's.
MORE_ACTORS_THAN_VUS = [
    ({"executor": "constant-vus", "vus": 2, "duration": "5s"}, 3, [1, 1, 0], None),
    ({"executor": "per-vu-iterations", "vus": 2, "iterations": 5}, 3, [1, 1, 0], [5, 5, 0]),
    ({"executor": "shared-iterations", "vus": 2, "iterations": 5}, 7,
     [1, 1, 0, 0, 0, 0, 0], [3, 2, 0, 0, 0, 0, 0]),
    ({"executor": "constant-arrival-rate", "rate": 4, "duration": "2s", "preAllocatedVUs": 1,
      "maxVUs": 2}, 3, [1, 1, 0], [4, 4, 0]),
    ({"executor": "ramping-arrival-rate", "startRate": 0, "preAllocatedVUs": 1, "maxVUs": 1,
      "stages": [{"duration": "4s", "target": 4}]}, 2, [1, 0], [7, 0]),
    ({"executor": "ramping-vus", "startVUs": 0, "stages": [{"duration": "2s", "target": 2}]},
     3, [1, 1, 0], None),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "actors", "vus", "iterations"), MORE_ACTORS_THAN_VUS)
def test_more_actors_than_vus(
    spec: dict, actors: int, vus: list[int], iterations: list[int] | None
) -> None:
    (sc,) = _scenarios({"s": spec})
    segs = _column(make_plan([sc], actors), "s")
    assert [s.max_vus for s in segs] == vus
    if iterations is not None:
        assert [planned_iterations(sc, s) for s in segs] == iterations


def test_launch_plan_ids_and_totals() -> None:
    scenarios = _scenarios(LAUNCH)
    plan = make_plan(scenarios, 16)
    assert len(plan) == 16
    assert all([seg.scenario for seg in actor] == list(LAUNCH) for actor in plan)
    totals = {name: sum(s.max_vus for s in _column(plan, name)) for name in LAUNCH}
    assert totals == {"upload": 100, "hls": 500, "browse": 1000, "checkout": 50}
    _assert_ids_partition(plan)
    assert _id_ranges(plan)[-1][1] == 1650 + 1
    # ids are numbered scenario by scenario: every upload id is below every hls id
    upload_hi = max(s.vu_id_base + s.max_vus for s in _column(plan, "upload"))
    hls_lo = min(s.vu_id_base for s in _column(plan, "hls"))
    assert upload_hi == hls_lo == 101


def test_segment_wire_round_trip() -> None:
    (sc,) = _scenarios({"a": {"executor": "constant-vus", "vus": 7, "duration": "1m"}})
    seg = segment_for(sc, 1, 3, vu_id_base=42)
    assert seg == Segment("a", 1, 3, 2, 2, 1, 42)
    assert Segment.from_wire(seg.to_wire()) == seg


def test_single_actor_gets_everything() -> None:
    scenarios = _scenarios(LAUNCH)
    plan = make_plan(scenarios, 1)
    assert [seg.max_vus for seg in plan[0]] == [100, 500, 1000, 50]
    assert [seg.vu_id_base for seg in plan[0]] == [1, 101, 601, 1601]


@pytest.mark.parametrize("actors", [1, 2, 3, 7, 16])
def test_planned_vu_seconds_add_up(actors: int) -> None:
    scenarios = _scenarios(LAUNCH)
    plan = make_plan(scenarios, actors)
    by_name = {sc.name: sc for sc in scenarios}
    total_upload = sum(planned_vu_seconds(by_name["upload"], s) for s in _column(plan, "upload"))
    assert total_upload == pytest.approx(100 * 600)
    total_browse = sum(planned_vu_seconds(by_name["browse"], s) for s in _column(plan, "browse"))
    # The ramp is planned in whole VU steps, so the total stays within one VU of the ideal.
    ideal = 1000 * 120 / 2 + 1000 * 480
    assert abs(total_browse - ideal) <= 600


scenario_strategy = st.one_of(
    st.builds(
        lambda v: {"executor": "constant-vus", "vus": v, "duration": "1m"},
        st.integers(1, 3000),
    ),
    st.builds(
        lambda v, extra: {"executor": "shared-iterations", "vus": v, "iterations": v + extra},
        st.integers(1, 500),
        st.integers(0, 2000),
    ),
    st.builds(
        lambda v, i: {"executor": "per-vu-iterations", "vus": v, "iterations": i},
        st.integers(1, 500),
        st.integers(1, 50),
    ),
    st.builds(
        lambda s, t: {
            "executor": "ramping-vus",
            "startVUs": s,
            "stages": [{"duration": "10s", "target": t}, {"duration": "10s", "target": 0}],
        },
        st.integers(0, 100),
        st.integers(1, 2000),
    ),
    st.builds(
        lambda p, extra: {
            "executor": "constant-arrival-rate",
            "rate": 10,
            "duration": "1m",
            "preAllocatedVUs": p,
            "maxVUs": p + extra,
        },
        st.integers(0, 300),
        st.integers(1, 300),
    ),
    st.builds(
        lambda p, extra, r0, r1: {
            "executor": "ramping-arrival-rate",
            "startRate": r0,
            "stages": [{"duration": "7s", "target": r1}, {"duration": "3s", "target": 0}],
            "preAllocatedVUs": p,
            "maxVUs": p + extra,
        },
        st.integers(0, 50),
        st.integers(1, 50),
        st.integers(0, 30),
        st.integers(0, 30),
    ),
)


@settings(deadline=None, max_examples=200)
@given(specs=st.lists(scenario_strategy, min_size=1, max_size=5), actors=st.integers(1, 40))
def test_plan_properties(specs: list[dict], actors: int) -> None:
    scenarios = _scenarios({f"s{i}": spec for i, spec in enumerate(specs)})
    plan = make_plan(scenarios, actors)
    assert len(plan) == actors
    assert all(len(actor) == len(scenarios) for actor in plan)
    _assert_ids_partition(plan)
    for sc in scenarios:
        segs = _column(plan, sc.name)
        assert [s.index for s in segs] == list(range(actors))
        planned = [planned_iterations(sc, s) for s in segs]
        if sc.is_arrival_rate:
            assert sum(s.vus for s in segs) == sc.pre_allocated_vus
            assert sum(s.max_vus for s in segs) == sc.max_vus_needed
            assert all(s.max_vus >= s.vus for s in segs)
            whole = planned_iterations(sc, make_plan([sc], 1)[0][0])
            assert sum(p or 0 for p in planned) == whole  # the stripes partition the iterations
            assert all(p == 0 for s, p in zip(segs, planned, strict=True) if s.max_vus == 0)
            continue
        assert all(
            p == 0 for s, p in zip(segs, planned, strict=True) if s.vus == 0 and p is not None
        )
        shares = [s.max_vus for s in segs]
        if sc.executor == "shared-iterations":
            assert sum(s.iterations for s in segs) == sc.iterations
            assert sum(shares) == sc.vus
        else:
            assert sum(shares) == sc.max_vus_needed
        assert max(shares) - min(shares) <= 1  # as even as integers allow
        assert shares == sorted(shares, reverse=True)  # earlier actors take the extra units


def test_replacement_keeps_the_lost_actors_share() -> None:
    """A lost actor's replacement runs the rest of the same share: iteration budgets less
    what was done, and for arrival rates the same stripe of the global iterations."""
    specs = {
        "si": {"executor": "shared-iterations", "vus": 20, "iterations": 50},
        "car": {"executor": "constant-arrival-rate", "rate": 50, "duration": "1s",
                "preAllocatedVUs": 20},
    }  # fmt: skip
    scenarios = _scenarios(specs)
    plan = make_plan(scenarios, 3)
    executors = {sc.name: sc.executor for sc in scenarios}
    si, car = resume_segments(plan[1], {"si": 5, "car": 4}, executors)
    assert si.iterations == 17 - 5
    assert car == plan[1][1]
    assert Segment.from_wire(car.to_wire()) == car


def test_segment_wire_has_the_segment_fields_and_round_trips() -> None:
    """SegmentWire is generated from Segment (core/segment.py): the same fields, once."""
    import dataclasses

    from veza_ray.core.segment import Segment as Seg

    names = [f.name for f in dataclasses.fields(Seg)]
    seg = Seg("s", 1, 3, 4, 5, 6, 7, stripe_period=3, stripe=(0, 2))
    wire = seg.to_wire()
    assert list(wire) == names and wire["stripe"] == [0, 2]
    assert Seg.from_wire(wire) == seg
    with pytest.raises(ValueError, match="a segment has the fields"):
        Seg.from_wire({**wire, "extra": 1})
