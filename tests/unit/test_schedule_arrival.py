"""Arrival-rate schedules: k6's own executor test tables, plus properties.

Pure math only: no Ray, no network, no sleeping, no wall-clock limits. Each table names
the k6 v1.1.0 test it is taken from (lib/executor/*_test.go in grafana/k6).
"""

from __future__ import annotations

import math
import types
from fractions import Fraction
from itertools import islice, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.core.schedule import (
    Stage,
    constant_arrival_count,
    constant_arrival_offsets,
    constant_arrival_period_ns,
    ramping_arrival_count,
    ramping_arrival_offsets,
    ramping_arrival_times_ns,
    stages_duration,
)
from veza_ray.core.segments import ExecutionSegment, ExecutionTuple, SegmentSequence, Stripe

S = Stage


def _tuple(seg: str | None, seq: str | None) -> ExecutionTuple:
    """k6's NewExecutionTuple(segment, sequence) from their string forms (None: not given)."""
    segment = ExecutionSegment.parse(seg) if seg else None
    sequence = SegmentSequence.parse(seq) if seq else SegmentSequence.filled([], segment)
    index = 0 if segment is None else list(sequence.segments).index(segment)
    return sequence.at(index)


def _stripe(seg: str | None, seq: str | None, max_vus: int | None = None) -> Stripe:
    """The iteration stripe an arrival-rate executor uses: the tuple re-cut by maxVUs."""
    et = _tuple(seg, seq)
    if max_vus is not None:
        got = et.new_from_value(max_vus)
        assert got is not None
        et = got
    return et.stripe()


# --------------------------------------------------------------------------- ramping, k6 tables

# k6 lib/executor/ramping_arrival_rate_test.go, TestRampingArrivalRateCal: startRate 0,
# stages 5s->1, 1s->1, 5s->0; expected start times in ms, compared with InEpsilon 0.001.
CAL_STAGES = [S(5, 1), S(1, 1), S(5, 0)]
CAL_TABLE = [
    (None, None, 1.0, [3162, 4472, 5500, 6527, 7837, 11000]),
    ("0:1/3", None, 1.0, [4472, 7837]),
    ("0:1/3", "0,1/3,1", 1.0, [4472, 7837]),
    ("1/3:2/3", None, 1.0, [4472, 7837]),
    ("2/3:1", None, 1.0, [4472, 7837]),
    ("0:1/3", "0,1/3,2/3,1", 1.0, [3162, 6527]),
    ("1/3:2/3", "0,1/3,2/3,1", 1.0, [4472, 7837]),
    ("2/3:1", "0,1/3,2/3,1", 1.0, [5500, 11000]),
    (None, None, 1 / 3, [1825, 2581, 3162, 3651, 4082, 4472, 4830, 5166, 5499, 5833, 6169,
                         6527, 6917, 7348, 7837, 8418, 9174, 10999]),
]  # fmt: skip


@pytest.mark.parametrize(("seg", "seq", "unit", "expected_ms"), CAL_TABLE)
def test_k6_ramping_arrival_rate_cal(
    seg: str | None, seq: str | None, unit: float, expected_ms: list[int]
) -> None:
    # time.Second / 3 in Go is 333333333 ns; _to_ns rounds 1/3 s to the same.
    times = list(ramping_arrival_times_ns(0, CAL_STAGES, unit, _stripe(seg, seq)))
    assert len(times) == len(expected_ms)
    for got, want in zip(times, expected_ms, strict=True):
        assert got / 1e6 == pytest.approx(want, rel=0.001)


def test_issue_example_ramp_zero_to_one_per_second() -> None:
    """0 -> 1/s over 5 s: two iterations, at sqrt(10) and sqrt(20) s; none at t = 0."""
    offs = list(ramping_arrival_offsets(0, [S(5, 1)], 1.0))
    assert offs == pytest.approx([math.sqrt(10), math.sqrt(20)], abs=1e-9)
    assert ramping_arrival_count(0, [S(5, 1)], 1.0) == 2


def test_k6_cal_last_iteration_on_the_end_does_not_run() -> None:
    # k6 TestRampingArrivalRateCal lists an iteration at exactly 11 s, the end of the
    # stages; k6's run ends there first, so the offsets (what runs) stop before it.
    assert len(list(ramping_arrival_offsets(0, CAL_STAGES, 1.0))) == 5
    assert ramping_arrival_count(0, CAL_STAGES, 1.0) == 5
    third = _stripe("2/3:1", "0,1/3,2/3,1")
    assert list(ramping_arrival_offsets(0, CAL_STAGES, 1.0, third)) == [5.5]
    assert ramping_arrival_count(0, CAL_STAGES, 1.0, third) == 1


# k6 lib/executor/ramping_arrival_rate_test.go, TestRampingArrivalRateGlobalIters:
# timeUnit 950ms, startRate 0, maxVUs 5, stages 1s->20, 1s->0; the global iteration
# numbers each segment of "0,1/4,3/4,1" runs.
RAMP_GLOBAL_ITERS = [
    ("0:1/4", [1, 6, 11, 16]),
    ("1/4:3/4", [0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19, 20]),
    ("3/4:1", [3, 8, 13, 18]),
]


@pytest.mark.parametrize(("seg", "expected"), RAMP_GLOBAL_ITERS)
def test_k6_ramping_arrival_rate_global_iters(seg: str, expected: list[int]) -> None:
    stages = [S(1, 20), S(1, 0)]
    stripe = _stripe(seg, "0,1/4,3/4,1", max_vus=5)
    whole = list(ramping_arrival_offsets(0, stages, 0.95))
    mine = list(ramping_arrival_offsets(0, stages, 0.95, stripe))
    assert mine == [whole[g] for g in expected]
    assert ramping_arrival_count(0, stages, 0.95, stripe) == len(expected)


# --------------------------------------------------------------------------- constant, k6 tables

# k6 lib/executor/constant_arrival_rate_test.go, TestConstantArrivalRateGlobalIters:
# rate 20 per 950ms for 1s, maxVUs 5; global iteration numbers per segment.
CONST_GLOBAL_ITERS = [
    ("0:1/4", [1, 6, 11, 16, 21]),
    ("1/4:3/4", [0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19, 20]),
    ("3/4:1", [3, 8, 13, 18]),
]


@pytest.mark.parametrize(("seg", "expected"), CONST_GLOBAL_ITERS)
def test_k6_constant_arrival_rate_global_iters(seg: str, expected: list[int]) -> None:
    stripe = _stripe(seg, "0,1/4,3/4,1", max_vus=5)
    period = constant_arrival_period_ns(20, 0.95)
    assert period == 47_500_000
    offs = list(constant_arrival_offsets(20, 0.95, 1.0, stripe))
    assert offs == [g * period / 1e9 for g in expected]
    assert constant_arrival_count(20, 0.95, 1.0, stripe) == len(expected)


# k6 lib/executor/constant_arrival_rate_test.go, TestConstantArrivalRateRunCorrectTiming:
# rate 50/s, maxVUs 20, 2 s; the first start and the repeating gaps, in ms.
CORRECT_TIMING = [
    ("0:1/3", None, 20, [40, 60, 60, 60, 60, 60, 60]),
    ("1/3:2/3", None, 20, [60, 60, 60, 60, 60, 60, 40]),
    ("2/3:1", None, 20, [40, 60, 60, 60, 60, 60, 60]),
    ("1/6:3/6", None, 20, [40, 80, 40, 80, 40, 80, 40]),
    ("1/6:3/6", "1/6,3/6", 20, [40, 80, 40, 80, 40, 80, 40]),
    ("0:1/3", "0,1/3,2/3,1", 0, [60, 60, 60, 60, 60, 60, 40]),
    ("1/3:2/3", "0,1/3,2/3,1", 20, [60, 60, 60, 60, 60, 60, 40]),
    ("2/3:1", "0,1/3,2/3,1", 40, [60, 60, 60, 60, 60, 100]),
]


@pytest.mark.parametrize(("seg", "seq", "start_ms", "steps_ms"), CORRECT_TIMING)
def test_k6_constant_arrival_rate_correct_timing(
    seg: str, seq: str | None, start_ms: int, steps_ms: list[int]
) -> None:
    offs = list(constant_arrival_offsets(50, 1.0, 2.0, _stripe(seg, seq, max_vus=20)))
    assert offs[0] * 1000 == pytest.approx(start_ms)
    gaps = [(b - a) * 1000 for a, b in pairwise(offs)]
    for i, gap in enumerate(gaps):
        assert gap == pytest.approx(steps_ms[i % len(steps_ms)])


def test_issue_example_rate_by_max_vus() -> None:
    """50/s with 20 maxVUs on 3 equal actors: 18/17/15 iterations a second, as k6."""
    seq = SegmentSequence.parse("0,1/3,2/3,1")
    per_second = []
    for i in range(3):
        got = seq.at(i).new_from_value(20)
        assert got is not None
        per_second.append(constant_arrival_count(50, 1.0, 1.0, got.stripe()))
    assert per_second == [18, 17, 15]


def test_constant_period_truncates_like_k6() -> None:
    # 3/s: time.Duration(float64(1/3 s)) is 333333333 ns, so 1 s holds 4 starts (the
    # fourth at 999999999 ns), as k6 schedules it.
    assert constant_arrival_period_ns(3, 1.0) == 333_333_333
    assert constant_arrival_count(3, 1.0, 1.0) == 4
    assert constant_arrival_period_ns(30, 60.0) == 2_000_000_000
    assert list(constant_arrival_offsets(30, 60.0, 120.0)) == [2.0 * k for k in range(60)]


def test_constant_rate_starts_at_zero_and_splits_by_stripe() -> None:
    offs = list(constant_arrival_offsets(100, 1.0, 10.0))
    assert offs == [k / 100 for k in range(1000)]
    assert constant_arrival_count(100, 1.0, 10.0) == 1000
    parts = [list(constant_arrival_offsets(100, 1.0, 10.0, Stripe.every(i, 3))) for i in range(3)]
    assert [len(p) for p in parts] == [334, 333, 333]
    for i, p in enumerate(parts):
        assert p == offs[i::3]


def test_constant_offsets_are_lazy() -> None:
    gen = constant_arrival_offsets(1_000_000, 1.0, 86_400.0, Stripe.every(1, 4))
    assert isinstance(gen, types.GeneratorType)
    assert list(islice(gen, 3)) == [1e-6, 5e-6, 9e-6]
    assert constant_arrival_count(1_000_000, 1.0, 86_400.0) == 86_400_000_000


@pytest.mark.parametrize(
    ("rate", "unit"), [(0, 1.0), (-1, 1.0), (1.5, 1.0), (True, 1.0), (1, 0.0), (1, 1e-12)]
)
def test_constant_rejects_at_call_time(rate: int, unit: float) -> None:
    with pytest.raises(ValueError):
        constant_arrival_offsets(rate, unit, 1.0)  # no next() needed
    with pytest.raises(ValueError):
        constant_arrival_count(rate, unit, 1.0)


@pytest.mark.parametrize(("rate", "unit"), [(-1, 1.0), (0.5, 1.0), (1, 0.0), (1, math.inf)])
def test_ramping_rejects_at_call_time(rate: int, unit: float) -> None:
    with pytest.raises(ValueError):
        ramping_arrival_offsets(rate, [S(1, 1)], unit)
    with pytest.raises(ValueError):
        ramping_arrival_count(rate, [S(1, 1)], unit)


# --------------------------------------------------------------------------- ramping, shapes


def test_ramp_from_zero_is_the_square_root() -> None:
    # 0 -> 100/s over 10 s: A(t) = 5 t**2, so iteration g starts at sqrt((g + 1) / 5)
    offs = list(ramping_arrival_offsets(0, [S(10, 100)], 1.0))
    assert len(offs) == 499 == ramping_arrival_count(0, [S(10, 100)], 1.0)  # 500th at 10 s
    for g, t in enumerate(offs):
        assert t == pytest.approx(math.sqrt((g + 1) / 5), abs=1e-9)


def test_ramp_down_to_zero() -> None:
    # 100 -> 0/s over 10 s: A(t) = 100 t - 5 t**2, iteration g when A reaches g + 1
    offs = list(ramping_arrival_offsets(100, [S(10, 0)], 1.0))
    assert len(offs) == 499
    for g, t in enumerate(offs):
        assert t == pytest.approx(10 - math.sqrt(100 - (g + 1) / 5), abs=1e-8)


def test_constant_stage_of_ramping_starts_one_period_in() -> None:
    # k6's ramping executor at a steady 10/s starts at 0.1 s, not 0 (unlike constant's)
    offs = list(ramping_arrival_offsets(10, [S(1, 10)], 1.0))
    assert offs == pytest.approx([k / 10 for k in range(1, 10)])


def test_zero_rate_stretches_yield_nothing() -> None:
    stages = [S(5, 0), S(0, 10), S(10, 10), S(0, 0), S(5, 0)]
    offs = list(ramping_arrival_offsets(0, stages, 1.0))
    assert len(offs) == 100 == ramping_arrival_count(0, stages, 1.0)
    assert offs == pytest.approx([5 + k / 10 for k in range(1, 101)], abs=1e-9)
    assert list(ramping_arrival_offsets(0, [S(30, 0)], 1.0)) == []
    assert ramping_arrival_count(0, [S(30, 0)], 1.0) == 0
    assert list(ramping_arrival_offsets(10, [], 1.0)) == []
    assert ramping_arrival_count(10, [], 1.0) == 0


def test_nanosecond_durations_make_counts_exact() -> None:
    assert ramping_arrival_count(10, [S(0.1, 10)], 1.0) == 0  # the one at 0.1 s is the end
    assert ramping_arrival_count(10, [S(0.1, 10), S(1, 0)], 1.0) == 5  # area 6, 6th at the end
    assert ramping_arrival_count(3, [S(1, 3)], 0.001) == 2999


def _area(start_rate: int, stages: list[Stage], unit: float, t_ns: int) -> Fraction:
    """Iterations planned before t_ns, computed independently in exact fractions."""
    unit_ns = round(unit * 1e9)
    s, r0, area = 0, Fraction(start_rate, unit_ns), Fraction(0)
    for stage in stages:
        d = round(stage.duration * 1e9)
        r1 = Fraction(stage.target, unit_ns)
        if d > 0 and t_ns <= s + d:
            tau = t_ns - s
            return area + r0 * tau + (r1 - r0) * tau * tau / (2 * d)
        area += d * (r0 + r1) / 2
        s, r0 = s + d, r1
    return area


arrival_stages = st.lists(
    st.builds(
        Stage,
        duration=st.integers(0, 3000).map(lambda ms: ms / 1000),
        target=st.one_of(st.just(0), st.integers(0, 40)),
    ),
    max_size=5,
)


@settings(deadline=None)
@given(
    st.one_of(st.just(0), st.integers(0, 40)),
    arrival_stages,
    st.sampled_from([1.0, 0.5, 2.0]),
    st.integers(1, 5),
)
def test_ramping_properties(start_rate: int, stages: list[Stage], unit: float, count: int) -> None:
    times = list(ramping_arrival_times_ns(start_rate, stages, unit))
    offs = list(ramping_arrival_offsets(start_rate, stages, unit))
    assert len(offs) == ramping_arrival_count(start_rate, stages, unit)
    total = stages_duration(stages)
    assert all(0.0 < t < total for t in offs)
    assert times == sorted(times)
    for g, t in enumerate(times):
        # iteration g starts at the whole ns where the planned count reaches g + 1
        assert _area(start_rate, stages, unit, t - 1) < g + 1
        assert _area(start_rate, stages, unit, t) <= g + 1 <= _area(start_rate, stages, unit, t + 1)
    for i in range(count):
        part = list(ramping_arrival_offsets(start_rate, stages, unit, Stripe.every(i, count)))
        assert part == offs[i::count]
        assert len(part) == ramping_arrival_count(start_rate, stages, unit, Stripe.every(i, count))
