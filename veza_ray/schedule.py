"""Executor timelines: pure math from elapsed time to planned work, with k6's semantics.

Nothing here reads a clock, sleeps, or does I/O. Like vegeta's pacer, every function takes
the elapsed time (float seconds since the scenario's own start) and returns what the plan
says. The runner injects the clock, so tests never have to sleep.

Exactness. Stage durations and time units are rounded to whole nanoseconds, as in k6, whose
durations are ``time.Duration``. Every decision about a boundary (how many VUs, how many
iterations, which side of a stage edge) uses exact integer or rational arithmetic. Only the
instants returned are floats. So 0.1 s at 10 iterations/s is exactly one iteration on every
actor, and the actors' shares always add up to the global plan.

Segments. A scenario is cut into ``count`` equal segments, one per actor. Unit ``k`` (the
k-th VU, or the k-th iteration) belongs to segment ``k % count``. This is k6's striping for
an equal execution-segment sequence. It means a segment's share is
ceil((total - index) / count), and raising the total by one adds exactly one unit to
exactly one segment, so no actor ever has to stop a VU while the global count goes up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "Stage",
    "arrival_count",
    "arrival_offsets",
    "constant_arrival_stages",
    "ramping_vus_at",
    "ramping_vus_changes",
    "ramping_vus_segment_at",
    "ramping_vus_segment_changes",
    "segment_share",
    "stages_duration",
]

_NS = 1_000_000_000  # nanoseconds per second


@dataclass(frozen=True)
class Stage:
    """One k6 stage: move linearly to ``target`` over ``duration`` seconds.

    ``target`` is a VU count for ramping-vus and iterations per ``timeUnit`` for
    ramping-arrival-rate. Bad values raise here, so no timeline is ever built on them.
    """

    duration: float
    target: int

    def __post_init__(self) -> None:
        if isinstance(self.duration, bool) or not isinstance(self.duration, (int, float)):
            raise ValueError(f"stage duration must be a number of seconds, got {self.duration!r}")
        if not math.isfinite(self.duration) or self.duration < 0:
            raise ValueError(f"stage duration must be finite and >= 0, got {self.duration!r}")
        if isinstance(self.target, bool) or not isinstance(self.target, int) or self.target < 0:
            raise ValueError(f"stage target must be an integer >= 0, got {self.target!r}")


# --------------------------------------------------------------------------- helpers


def _to_ns(seconds: float) -> int:
    """Round seconds to whole nanoseconds exactly, so every actor gets the same boundaries."""
    p, q = seconds.as_integer_ratio()
    return (2 * p * _NS + q) // (2 * q)  # round half up; p >= 0 here


def _ceil_div(num: int, den: int) -> int:
    return -((-num) // den)


def _ceil_frac(x: Fraction) -> int:
    return _ceil_div(x.numerator, x.denominator)


def _float_at_or_after(num: int, den: int) -> float:
    """Smallest float >= num/den (den > 0): the first float instant at which a change holds."""
    f = num / den  # int / int is correctly rounded
    p, q = f.as_integer_ratio()
    if p * den < num * q:
        f = math.nextafter(f, math.inf)
    return f


def _float_before(num: int, den: int) -> float:
    """Largest float < num/den (den > 0): the last float instant still inside a stage."""
    f = num / den
    p, q = f.as_integer_ratio()
    if p * den >= num * q:
        f = math.nextafter(f, -math.inf)
    return f


def _check_count(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _check_segment(index: int, count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"segment count must be an integer >= 1, got {count!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(f"segment index must be in [0, {count}), got {index!r}")


# --------------------------------------------------------------------------- segments


def segment_share(total: int, index: int, count: int) -> int:
    """Units of ``total`` owned by segment ``index`` of ``count`` equal segments.

    Unit k belongs to segment k % count (k6's striping for equal segments), so the share is
    ceil((total - index) / count): the parts add up to ``total`` exactly, earlier segments
    get the extra units (1000 over 3 -> 334, 333, 333; 2 over 3 -> 1, 1, 0), and a total
    growing by one grows exactly one share by one. Integer arithmetic only.
    """
    _check_segment(index, count)
    _check_count(total, "total")
    if total <= index:
        return 0
    return (total - index + count - 1) // count


# --------------------------------------------------------------------------- ramping-vus


def stages_duration(stages: Sequence[Stage]) -> float:
    """Total length of the stages in seconds, summed in whole nanoseconds as k6 does.

    Rounded to the first float at or after the exact end, like the instants of
    ``ramping_vus_changes``. That way the plan at this time is already the final one, and
    every arrival offset is strictly below it.
    """
    return _float_at_or_after(sum(_to_ns(s.duration) for s in stages), _NS)


def ramping_vus_at(start_vus: int, stages: Sequence[Stage], t: float) -> int:
    """Planned VUs (whole cluster) of k6's ramping-vus at elapsed ``t`` seconds.

    Within a stage the plan follows the straight line from the previous target to this one.
    Like k6, it changes the VU count exactly when the line crosses an integer. While ramping
    up the count is the line rounded down: VU v starts when the line reaches v. While ramping
    down it is the line rounded up: the count drops to v when the line reaches v, so a VU is
    stopped only once the line has passed below its number. This is k6's table (4 -> 6 over
    2 s, then -> 1 over 5 s, steps at 1 s, 2 s, 3 s, ...). A zero-duration stage jumps at
    its instant. Several at the same instant: the last one wins. Before 0 the plan is
    ``start_vus``. After the last stage it is the last target (ending the run, and k6's
    gracefulRampDown to 0, is the caller's business).
    """
    _check_count(start_vus, "start_vus")
    if math.isnan(t):
        raise ValueError("t must be a number, got nan")
    if t < 0:
        return start_vus
    if math.isinf(t):
        return stages[-1].target if stages else start_vus
    p, q = t.as_integer_ratio()  # t = p/q seconds, i.e. t_ns = p * _NS / q
    t_num = p * _NS
    value = start_vus
    start = 0
    for stage in stages:
        end = start + _to_ns(stage.duration)
        if t_num < end * q:  # t inside [start, end), so the stage has a positive duration
            diff = stage.target - value
            num = diff * (t_num - start * q)
            den = (end - start) * q
            if diff >= 0:
                return value + num // den  # floor while ramping up
            return value - ((-num) // den)  # ceil while ramping down
        value = stage.target
        start = end
    return value


def ramping_vus_changes(start_vus: int, stages: Sequence[Stage]) -> list[tuple[float, int]]:
    """Every instant where the planned global VU count changes, as ``(t, vus)`` pairs.

    Times are strictly increasing. Each time is the first float at which
    ``ramping_vus_at`` returns the new count, so a runner that applies each entry at its
    time follows the plan exactly. The list starts with ``(0.0, start_vus)``, unless
    zero-duration stages at 0 replace that count at once. Changes that fall on the same
    float (a ramp faster than float resolution) collapse into the last one.
    """
    _check_count(start_vus, "start_vus")
    out: list[tuple[float, int]] = [(0.0, start_vus)]

    def add(num: int, den: int, vus: int) -> None:
        t = _float_at_or_after(num, den)
        if out and out[-1][0] == t:
            out.pop()
        if not out or out[-1][1] != vus:
            out.append((t, vus))

    value = start_vus
    start = 0
    for stage in stages:
        dur = _to_ns(stage.duration)
        diff = stage.target - value
        if diff != 0 and dur == 0:
            add(start, _NS, stage.target)
        elif diff > 0:
            # VU v starts at start + dur * (v - value) / diff  (nanoseconds)
            for v in range(value + 1, stage.target + 1):
                add(start * diff + dur * (v - value), diff * _NS, v)
        elif diff < 0:
            # the count drops to v at start + dur * (value - v) / -diff
            for v in range(value - 1, stage.target - 1, -1):
                add(start * -diff + dur * (value - v), -diff * _NS, v)
        value = stage.target
        start += dur
    return out


def ramping_vus_segment_at(
    start_vus: int, stages: Sequence[Stage], t: float, index: int, count: int
) -> int:
    """Planned VUs of segment ``index`` of ``count`` at ``t``; the segments sum to the global."""
    _check_segment(index, count)
    return segment_share(ramping_vus_at(start_vus, stages, t), index, count)


def ramping_vus_segment_changes(
    start_vus: int, stages: Sequence[Stage], index: int, count: int
) -> list[tuple[float, int]]:
    """The instants where segment ``index``'s planned VU count changes.

    This is the global timeline seen through ``segment_share``. It lets one actor follow
    its own part of the plan without asking for the global value on every tick.
    """
    _check_segment(index, count)
    out: list[tuple[float, int]] = []
    for t, vus in ramping_vus_changes(start_vus, stages):
        share = segment_share(vus, index, count)
        if not out or out[-1][1] != share:
            out.append((t, share))
    return out


# --------------------------------------------------------------------------- arrival rate


@dataclass(frozen=True)
class _RateSpan:
    """One stage of an arrival-rate plan with its exact iteration area before and after it."""

    start_ns: int
    end_ns: int
    rate0: Fraction  # iterations per time unit at start_ns
    rate1: Fraction  # iterations per time unit at end_ns
    area0: Fraction  # iterations planned before start_ns
    area1: Fraction  # iterations planned before end_ns


def _rate_spans(start_rate: float, stages: Sequence[Stage], time_unit: float) -> list[_RateSpan]:
    if isinstance(start_rate, bool) or not isinstance(start_rate, (int, float)):
        raise ValueError(f"start_rate must be a number, got {start_rate!r}")
    if not math.isfinite(start_rate) or start_rate < 0:
        raise ValueError(f"start_rate must be finite and >= 0, got {start_rate!r}")
    if isinstance(time_unit, bool) or not isinstance(time_unit, (int, float)):
        raise ValueError(f"time_unit must be a number of seconds, got {time_unit!r}")
    if not math.isfinite(time_unit) or time_unit <= 0 or _to_ns(time_unit) == 0:
        raise ValueError(f"time_unit must be finite and at least 1 ns, got {time_unit!r}")
    unit_ns = _to_ns(time_unit)
    spans: list[_RateSpan] = []
    rate0 = Fraction(start_rate)
    area = Fraction(0)
    start = 0
    for stage in stages:
        dur = _to_ns(stage.duration)
        rate1 = Fraction(stage.target)
        area1 = area + dur * (rate0 + rate1) / (2 * unit_ns)
        spans.append(_RateSpan(start, start + dur, rate0, rate1, area, area1))
        rate0, area, start = rate1, area1, start + dur
    return spans


def arrival_count(
    start_rate: float, stages: Sequence[Stage], time_unit: float, index: int = 0, count: int = 1
) -> int:
    """How many offsets ``arrival_offsets`` yields, in O(stages) and without iterating.

    Iteration k exists iff the planned area before the end exceeds k, so the global count is
    ceil(total area). A segment gets the k with k % count == index, which is its
    ``segment_share`` of that count.
    """
    _check_segment(index, count)
    spans = _rate_spans(start_rate, stages, time_unit)
    total = _ceil_frac(spans[-1].area1) if spans else 0
    return segment_share(total, index, count)


def arrival_offsets(
    start_rate: float, stages: Sequence[Stage], time_unit: float, index: int = 0, count: int = 1
) -> Iterator[float]:
    """Start offsets (seconds) of the iterations of an arrival-rate executor, lazily.

    The rate is ``start_rate`` per ``time_unit`` at 0 and moves linearly to each stage's
    target over that stage. Constant-arrival-rate is one stage ``(duration, rate)`` with
    ``start_rate=rate``. With A(t) the integral of the rate, global iteration k starts at
    the first instant after which A exceeds k. Where the rate is positive that is the
    solution of A(t) = k, so the first iteration is at 0 and a constant rate gives k / rate,
    as in k6's constant-arrival-rate. Where the rate is 0 for a stretch, the iteration waits
    for the stretch to end, so nothing starts while the rate is 0. Starts at or after the
    total duration are not produced.

    Segment ``index`` of ``count`` yields only the k with k % count == index, so the
    segments together produce exactly the global sequence. The inverse of each piecewise
    quadratic is solved in closed form, with the cancellation-free root. Which k falls in
    which stage is decided exactly. Arguments are checked at call time, not on first next().
    """
    _check_segment(index, count)
    spans = _rate_spans(start_rate, stages, time_unit)
    return _offsets(spans, _to_ns(time_unit), index, count)


def _offsets(spans: list[_RateSpan], unit_ns: int, index: int, count: int) -> Iterator[float]:
    prev = 0.0
    for span in spans:
        if span.area1 == span.area0:  # zero duration, or the rate is 0 throughout
            continue
        first = _ceil_frac(span.area0)  # iterations k with area0 <= k < area1 start here
        first += (index - first) % count
        stop = _ceil_frac(span.area1)
        if first >= stop:
            continue
        base = span.area0.numerator // span.area0.denominator
        frac = float(span.area0 - base)  # area0 = base + frac, so the remainder stays exact
        start = span.start_ns / _NS
        lo = _float_at_or_after(span.start_ns, _NS)
        hi = _float_before(span.end_ns, _NS)
        r0 = float(span.rate0 * _NS / unit_ns)  # iterations per second
        r1 = float(span.rate1 * _NS / unit_ns)
        if span.rate0 == span.rate1:
            for k in range(first, stop, count):
                t = start + (float(k - base) - frac) / r0
                prev = max(prev, min(max(t, lo), hi))
                yield prev
        else:
            # r0 * tau + slope * tau**2 / 2 = x  ->  tau = 2x / (r0 + sqrt(r0**2 + 2 slope x))
            slope = (r1 - r0) / ((span.end_ns - span.start_ns) / _NS)
            for k in range(first, stop, count):
                x = float(k - base) - frac
                root = r0 + math.sqrt(max(0.0, r0 * r0 + 2.0 * slope * x))
                tau = 2.0 * x / root if root > 0.0 else 0.0
                prev = max(prev, min(max(start + tau, lo), hi))
                yield prev


def constant_arrival_stages(rate: float, duration: float) -> list[Stage]:
    """Stages of a constant-arrival-rate scenario: use with ``start_rate=rate``.

    k6's ``rate`` is a whole number (a slower pace is a longer ``timeUnit``), and a stage
    target is an int, so a fractional rate is refused here instead of being rounded.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ValueError(f"rate must be a whole number, got {rate!r}")
    if not math.isfinite(rate) or rate < 0 or rate != int(rate):
        raise ValueError(
            f"rate must be a whole number >= 0 (k6 rates are integers; use a longer timeUnit "
            f"for a slower pace), got {rate!r}"
        )
    return [Stage(duration=duration, target=int(rate))]
