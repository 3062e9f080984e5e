"""Executor timelines: tables like k6's own executor tests, plus property tests.

Pure math only: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import bisect
import math
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.core.schedule import (
    Stage,
    ramping_vus_at,
    ramping_vus_changes,
    ramping_vus_segment_at,
    ramping_vus_segment_changes,
    segment_share,
    stages_duration,
)

S = Stage

# k6 lib/executor/ramping_vus_test.go, TestRampingVUsConfigExecutionPlanExample
K6_EXAMPLE = [S(2, 6), S(5, 1), S(4, 5), S(4, 1), S(3, 4), S(2, 4), S(0, 1), S(3, 1)]
K6_EXAMPLE_STEPS = [
    (0.0, 4), (1.0, 5), (2.0, 6), (3.0, 5), (4.0, 4), (5.0, 3), (6.0, 2), (7.0, 1), (8.0, 2),
    (9.0, 3), (10.0, 4), (11.0, 5), (12.0, 4), (13.0, 3), (14.0, 2), (15.0, 1), (16.0, 2),
    (17.0, 3), (18.0, 4), (20.0, 1),
]  # fmt: skip

# k6 TestRampingVUsExecutionTupleTests: the same start plus more jumps and ramps
K6_TUPLE = [
    *K6_EXAMPLE, S(0, 5), S(3, 5), S(0, 0), S(2, 2), S(2, 0), S(4, 4),
]  # fmt: skip
K6_TUPLE_STEPS = [
    *K6_EXAMPLE_STEPS, (23.0, 5), (26.0, 0), (27.0, 1), (28.0, 2), (29.0, 1), (30.0, 0),
    (31.0, 1), (32.0, 2), (33.0, 3), (34.0, 4),
]  # fmt: skip
# ... and each third of the sequence "0,1/3,2/3,1", as k6 plans them
K6_TUPLE_THIRDS = [
    [(0.0, 2), (5.0, 1), (10.0, 2), (13.0, 1), (18.0, 2), (20.0, 1), (23.0, 2), (26.0, 0),
     (27.0, 1), (30.0, 0), (31.0, 1), (34.0, 2)],
    [(0.0, 1), (1.0, 2), (4.0, 1), (7.0, 0), (8.0, 1), (11.0, 2), (12.0, 1), (15.0, 0),
     (16.0, 1), (20.0, 0), (23.0, 2), (26.0, 0), (28.0, 1), (29.0, 0), (32.0, 1)],
    [(0.0, 1), (2.0, 2), (3.0, 1), (6.0, 0), (9.0, 1), (14.0, 0), (17.0, 1), (20.0, 0),
     (23.0, 1), (26.0, 0), (33.0, 1)],
]  # fmt: skip


# --------------------------------------------------------------------------- segment_share


@pytest.mark.parametrize(
    ("total", "count", "shares"),
    [
        (1000, 3, [334, 333, 333]),
        (2, 3, [1, 1, 0]),
        (0, 4, [0, 0, 0, 0]),
        (7, 1, [7]),
        (6, 4, [2, 2, 1, 1]),
        (3, 5, [1, 1, 1, 0, 0]),
        (1650, 16, [104] * 2 + [103] * 14),
    ],
)
def test_segment_share_table(total: int, count: int, shares: list[int]) -> None:
    assert [segment_share(total, i, count) for i in range(count)] == shares


@pytest.mark.parametrize(
    ("total", "index", "count"), [(1, 0, 0), (1, -1, 3), (1, 3, 3), (-1, 0, 1), (1, 0, -2)]
)
def test_segment_share_rejects(total: int, index: int, count: int) -> None:
    with pytest.raises(ValueError):
        segment_share(total, index, count)


@given(st.integers(0, 10**12), st.integers(1, 300))
def test_segment_shares_add_up_and_differ_by_at_most_one(total: int, count: int) -> None:
    shares = [segment_share(total, i, count) for i in range(count)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # earlier segments get the extra units


@given(st.integers(0, 500), st.integers(1, 40))
def test_segment_share_is_striping(total: int, count: int) -> None:
    for i in range(count):
        assert segment_share(total, i, count) == sum(1 for k in range(total) if k % count == i)


@given(st.integers(0, 10**6), st.integers(1, 64))
def test_segment_share_grows_one_segment_at_a_time(total: int, count: int) -> None:
    # one more global VU never makes an actor stop one of its own
    grew = [
        segment_share(total + 1, i, count) - segment_share(total, i, count) for i in range(count)
    ]
    assert grew == [1 if i == total % count else 0 for i in range(count)]


# --------------------------------------------------------------------------- ramping-vus


def test_k6_example_changes() -> None:
    assert ramping_vus_changes(4, K6_EXAMPLE) == K6_EXAMPLE_STEPS


@pytest.mark.parametrize(
    ("t", "vus"),
    [
        (-1.0, 4), (0.0, 4), (0.5, 4), (0.999, 4), (1.0, 5), (1.5, 5), (2.0, 6),
        (2.5, 6),  # ramping down: the line is at 5.5, the count still 6
        (2.999, 6), (3.0, 5), (6.5, 2), (7.0, 1), (7.5, 1), (8.0, 2), (19.0, 4), (19.999, 4),
        (20.0, 1), (21.0, 1), (23.0, 1), (1e9, 1), (math.inf, 1),
    ],
)  # fmt: skip
def test_k6_example_at(t: float, vus: int) -> None:
    assert ramping_vus_at(4, K6_EXAMPLE, t) == vus


def test_k6_execution_tuple_global_and_thirds() -> None:
    assert ramping_vus_changes(4, K6_TUPLE) == K6_TUPLE_STEPS
    for i, expected in enumerate(K6_TUPLE_THIRDS):
        assert ramping_vus_segment_changes(4, K6_TUPLE, i, 3) == expected
        for t, vus in expected:
            assert ramping_vus_segment_at(4, K6_TUPLE, t, i, 3) == vus


@pytest.mark.parametrize(
    ("start", "stages", "steps"),
    [
        # k6 "going up then down straight away": k6 lists (0,2),(0,5); one instant, one entry
        (2, [S(0, 5), S(2, 3)], [(0.0, 5), (1.0, 4), (2.0, 3)]),
        (3, [S(2, 5)], [(0.0, 3), (1.0, 4), (2.0, 5)]),
        (
            0,
            [S(2, 2), S(2, 0), S(2, 2), S(2, 0)],
            [
                (0.0, 0),
                (1.0, 1),
                (2.0, 2),
                (3.0, 1),
                (4.0, 0),
                (5.0, 1),
                (6.0, 2),
                (7.0, 1),
                (8.0, 0),
            ],
        ),
        (
            0,
            [S(5, 5), S(5, 0)],
            [
                (0.0, 0),
                *((float(v), v) for v in range(1, 6)),
                *((10.0 - v, v) for v in range(4, -1, -1)),
            ],
        ),
        (5, [], [(0.0, 5)]),
        (5, [S(0, 10), S(0, 5), S(3, 5)], [(0.0, 5)]),  # jumps that cancel out at one instant
        (1, [S(10, 1)], [(0.0, 1)]),
    ],
)
def test_ramping_vus_corner_cases(
    start: int, stages: list[Stage], steps: list[tuple[float, int]]
) -> None:
    assert ramping_vus_changes(start, stages) == steps


def test_ramping_halves_like_k6() -> None:
    stages = [S(2, 2), S(2, 0), S(2, 2), S(2, 0)]
    assert ramping_vus_segment_changes(0, stages, 0, 2) == [
        (0.0, 0), (1.0, 1), (4.0, 0), (5.0, 1), (8.0, 0),
    ]  # fmt: skip
    assert ramping_vus_segment_changes(0, stages, 1, 2) == [
        (0.0, 0), (2.0, 1), (3.0, 0), (6.0, 1), (7.0, 0),
    ]  # fmt: skip
    assert ramping_vus_segment_changes(0, stages, 2, 3) == [(0.0, 0)]


def test_ramp_steps_at_non_representable_instants() -> None:
    # 0 -> 3 over 1 s: VU 1 starts at exactly 1/3 s, which no float equals
    changes = ramping_vus_changes(0, [S(1, 3)])
    assert [v for _, v in changes] == [0, 1, 2, 3]
    for t, v in changes[1:]:
        assert ramping_vus_at(0, [S(1, 3)], t) == v
        assert ramping_vus_at(0, [S(1, 3)], math.nextafter(t, -math.inf)) == v - 1
    assert changes[1][0] == pytest.approx(1 / 3, abs=1e-15)


def test_ramp_down_rounds_up() -> None:
    stages = [S(10, 0)]
    assert ramping_vus_at(10, stages, 0.5) == 10
    assert ramping_vus_at(10, stages, 1.0) == 9
    assert ramping_vus_at(10, stages, 9.999) == 1
    assert ramping_vus_at(10, stages, 10.0) == 0


def test_durations_are_whole_nanoseconds() -> None:
    # 100 ms + 200 ms is exactly 3/10 s; the answer is the first float at or after it
    d = stages_duration([S(0.1, 1), S(0.2, 1)])
    assert Fraction(math.nextafter(d, -math.inf)) < Fraction(3, 10) <= Fraction(d)
    assert d == stages_duration([S(0.3, 1)]) == stages_duration([S(0.1 + 0.2, 1)])
    assert ramping_vus_at(0, [S(0.1, 0), S(0.2, 10)], d) == 10
    assert stages_duration([S(2, 1), S(0, 1), S(0.5, 3)]) == 2.5
    assert stages_duration([]) == 0.0
    assert stages_duration([S(1e-10, 1)]) == 0.0


@pytest.mark.parametrize(
    ("duration", "target"), [(-1.0, 1), (math.inf, 1), (math.nan, 1), (1.0, -1), (1.0, 1.5)]
)
def test_stage_rejects(duration: float, target: int) -> None:
    with pytest.raises(ValueError):
        Stage(duration, target)


def test_ramping_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ramping_vus_at(-1, [], 0.0)
    with pytest.raises(ValueError):
        ramping_vus_at(1, [], math.nan)
    with pytest.raises(ValueError):
        ramping_vus_segment_at(1, [], 0.0, 3, 3)


durations = st.one_of(
    st.integers(0, 5000).map(lambda ms: ms / 1000),
    st.floats(0, 30, allow_nan=False, allow_infinity=False),
)
vu_stages = st.lists(st.builds(Stage, duration=durations, target=st.integers(0, 60)), max_size=6)


def _value_from_changes(changes: list[tuple[float, int]], t: float) -> int:
    i = bisect.bisect_right([c[0] for c in changes], t) - 1
    return changes[max(i, 0)][1]


@settings(deadline=None)
@given(st.integers(0, 60), vu_stages, st.lists(st.floats(0, 200, allow_nan=False), max_size=20))
def test_changes_agree_with_at(start: int, stages: list[Stage], ts: list[float]) -> None:
    changes = ramping_vus_changes(start, stages)
    assert changes[0][0] == 0.0
    assert changes[0][1] == ramping_vus_at(start, stages, 0.0)
    times = [t for t, _ in changes]
    assert times == sorted(set(times))  # strictly increasing
    assert all(a[1] != b[1] for a, b in pairwise(changes))
    for (_, before), (t, v) in pairwise(changes):
        assert ramping_vus_at(start, stages, t) == v  # the first float at which v holds
        assert ramping_vus_at(start, stages, math.nextafter(t, -math.inf)) == before
    for t in ts:
        assert ramping_vus_at(start, stages, t) == _value_from_changes(changes, t)
    final = stages[-1].target if stages else start
    assert changes[-1][1] == final == ramping_vus_at(start, stages, stages_duration(stages))


@settings(deadline=None)
@given(
    st.integers(0, 200),
    st.lists(
        st.builds(Stage, duration=st.integers(1, 5000).map(lambda ms: ms / 1000),
                  target=st.integers(0, 200)),
        min_size=1, max_size=5,
    ),
)  # fmt: skip
def test_ramps_move_one_vu_at_a_time(start: int, stages: list[Stage]) -> None:
    changes = ramping_vus_changes(start, stages)
    assert all(abs(a[1] - b[1]) == 1 for a, b in pairwise(changes))
    targets = [start, *(s.target for s in stages)]
    assert len(changes) - 1 == sum(abs(b - a) for a, b in pairwise(targets))
    # k6 starts VU v when the ramp line reaches v: check against the line itself
    for t, v in changes[1:]:
        assert abs(t - _line_time(start, stages, v, t)) < 1e-9


def _line_time(start: int, stages: list[Stage], v: int, near: float) -> float:
    """When the ramp line near ``near`` reaches v: up, VU v starts; down, the count drops to v."""
    s, frm = 0.0, start
    for stage in stages:
        e = s + stage.duration
        if s <= near <= e + 1e-9 and frm != stage.target:
            return s + stage.duration * (v - frm) / (stage.target - frm)
        s, frm = e, stage.target
    raise AssertionError("no ramp")


@settings(deadline=None)
@given(
    st.integers(0, 300),
    vu_stages,
    st.integers(1, 17),
    st.lists(st.floats(-1, 200, allow_nan=False), min_size=1, max_size=20),
)
def test_segments_sum_to_global(
    start: int, stages: list[Stage], count: int, ts: list[float]
) -> None:
    for t in ts:
        parts = [ramping_vus_segment_at(start, stages, t, i, count) for i in range(count)]
        assert sum(parts) == ramping_vus_at(start, stages, t)
    for i in range(count):
        seg = ramping_vus_segment_changes(start, stages, i, count)
        for t in ts:
            if t >= 0:
                assert _value_from_changes(seg, t) == ramping_vus_segment_at(
                    start, stages, t, i, count
                )
