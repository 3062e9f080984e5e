"""The plan: per-actor segments add up exactly; VU id ranges are disjoint, 1-based, contiguous.

Pure: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.options import ScenarioConfig, parse_options
from veza_ray.plan import Segment, make_plan, planned_vu_seconds, segment_for


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


def test_shared_iterations_sum_exactly() -> None:
    (sc,) = _scenarios({"s": {"executor": "shared-iterations", "vus": 10, "iterations": 300}})
    segs = _column(make_plan([sc], 3), "s")
    assert sum(seg.iterations for seg in segs) == 300
    assert [seg.iterations for seg in segs] == [100, 100, 100]
    assert sum(seg.vus for seg in segs) == 10


def test_shared_iterations_uneven_and_few() -> None:
    (sc,) = _scenarios({"s": {"executor": "shared-iterations", "vus": 2, "iterations": 7}})
    segs = _column(make_plan([sc], 4), "s")
    assert [seg.iterations for seg in segs] == [2, 2, 2, 1]
    assert sum(seg.iterations for seg in segs) == 7
    # no actor holds more VUs than iterations it must run
    assert all(seg.vus <= seg.iterations for seg in segs)
    assert sum(seg.vus for seg in segs) == 2


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


def test_arrival_rate_actor_with_no_share_still_gets_one_vu() -> None:
    """Documented choice (plan.py): an actor owning part of the rate needs a VU to run it.

    This means the cluster can hold more VUs than maxVUs (here 3 for maxVUs 2); k6 would
    keep maxVUs as a hard cap and drop that segment's iterations instead.
    """
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
    assert [seg.max_vus for seg in segs] == [1, 1, 1]
    _assert_ids_partition(plan)


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
        if sc.is_arrival_rate:
            assert sum(s.vus for s in segs) == sc.pre_allocated_vus
            assert all(s.max_vus >= max(1, s.vus) for s in segs)
            continue
        shares = [s.max_vus for s in segs]
        if sc.executor == "shared-iterations":
            assert sum(s.iterations for s in segs) == sc.iterations
            assert sum(shares) == sc.vus
        else:
            assert sum(shares) == sc.max_vus_needed
        assert max(shares) - min(shares) <= 1  # as even as integers allow
        assert shares == sorted(shares, reverse=True)  # earlier actors take the extra units
