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
k-th VU) belongs to segment ``k % count``: this is k6's striping for an equal sequence
(segments.py has the general one). So a segment's share is ceil((total - index) / count),
and raising the total by one adds exactly one unit to exactly one segment, so no actor ever
has to stop a VU while the global count goes up. Arrival-rate iterations are dealt out by a
``Stripe`` that the plan derives from maxVUs, as k6 does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from veza_ray.core.segments import Stripe

__all__ = [
    "Stage",
    "constant_arrival_count",
    "constant_arrival_offsets",
    "constant_arrival_period_ns",
    "ramping_arrival_count",
    "ramping_arrival_offsets",
    "ramping_arrival_times_ns",
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


def _float_at_or_after(num: int, den: int) -> float:
    """Smallest float >= num/den (den > 0): the first float instant at which a change holds."""
    f = num / den  # int / int is correctly rounded
    p, q = f.as_integer_ratio()
    if p * den < num * q:
        f = math.nextafter(f, math.inf)
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


def _check_rate(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{name} must be a whole number >= 0 (k6 rates are integers; use a longer "
            f"timeUnit for a slower pace), got {value!r}"
        )


def _unit_ns(time_unit: float) -> int:
    if isinstance(time_unit, bool) or not isinstance(time_unit, (int, float)):
        raise ValueError(f"time_unit must be a number of seconds, got {time_unit!r}")
    if not math.isfinite(time_unit) or time_unit <= 0 or _to_ns(time_unit) == 0:
        raise ValueError(f"time_unit must be finite and at least 1 ns, got {time_unit!r}")
    return _to_ns(time_unit)


def _duration_ns(seconds: float) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"duration must be a number of seconds, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be finite and >= 0, got {seconds!r}")
    return _to_ns(seconds)


def constant_arrival_period_ns(rate: int, time_unit: float) -> int:
    """k6's ticker period of constant-arrival-rate: timeUnit / rate, truncated to whole ns.

    k6 converts the exact ratio to the nearest float and truncates it to a
    ``time.Duration``; ``int / int`` in Python is that same correctly rounded float. A
    period below 1 ns (over a billion iterations a second) is taken as 1 ns.
    """
    _check_rate(rate, "rate")
    if rate == 0:
        raise ValueError("rate must be above 0")
    return max(1, int(_unit_ns(time_unit) / rate))


def constant_arrival_offsets(
    rate: int, time_unit: float, duration: float, stripe: Stripe | None = None
) -> Iterator[float]:
    """Start offsets (seconds) of constant-arrival-rate iterations that ``stripe`` owns.

    As in k6: global iteration g starts at ``g * period`` (g = 0, 1, 2, ...; the first at
    0), and only starts before ``duration`` happen. The stripe is the segment's share of the
    global sequence (see segments.py); the default owns every iteration. Lazy.
    """
    period = constant_arrival_period_ns(rate, time_unit)
    end = _duration_ns(duration)
    return _constant_offsets(period, end, stripe or Stripe.every())


def _constant_offsets(period: int, end: int, stripe: Stripe) -> Iterator[float]:
    for g in stripe.indices():
        t = g * period
        if t >= end:
            return
        yield t / _NS


def constant_arrival_count(
    rate: int, time_unit: float, duration: float, stripe: Stripe | None = None
) -> int:
    """How many offsets ``constant_arrival_offsets`` yields, without iterating."""
    period = constant_arrival_period_ns(rate, time_unit)
    total = _ceil_div(_duration_ns(duration), period)  # g * period < duration
    return (stripe or Stripe.every()).count_below(total)


def _ramp_time_ns(a: int, b: int, dur: int, unit: int, n: Fraction) -> int:
    """Whole ns into a stage (rate a -> b per ``unit`` ns over ``dur`` ns) where the
    iterations planned since the stage began reach ``n`` (0 < n <= the stage's area).

    The area is a*t/unit + (b-a)*t**2/(2*dur*unit). Solved exactly with an integer square
    root and rounded down, as k6 truncates its float root to a time.Duration.
    """
    p, q = n.numerator, n.denominator
    if a == b:
        return (p * unit) // (q * a)
    # t = (-a*dur + sqrt(a^2 dur^2 + 2 (b-a) dur unit n)) / (b - a); scale by q to stay integral
    xq = (a * a * dur * dur * q + 2 * (b - a) * dur * unit * p) * q
    s = math.isqrt(xq)
    c = a * dur * q
    if b > a:
        return (s - c) // ((b - a) * q)
    if s * s != xq:
        s += 1  # c - sqrt lies strictly between c - s - 1 and c - s
    return (c - s) // ((a - b) * q)


def ramping_arrival_times_ns(
    start_rate: int, stages: Sequence[Stage], time_unit: float, stripe: Stripe | None = None
) -> Iterator[int]:
    """k6's ``cal`` for ramping-arrival-rate: start times (ns) of the iterations ``stripe`` owns.

    The rate moves linearly from ``start_rate`` per ``time_unit`` through each stage's
    target. Global iteration g (0-based) starts when the planned count, the area under the
    rate, reaches g + 1: a ramp from 0 to 1/s over 5 s starts its two iterations at
    sqrt(10) = 3.16 s and sqrt(20) = 4.47 s, and nothing at 0. An iteration whose count is
    reached exactly at a stage's end belongs to that stage, so the last one may fall on the
    end of the stages (k6's table lists it; ``ramping_arrival_offsets`` drops it, as k6's
    run ends there). Exact: areas in fractions, roots by integer square root. Lazy.
    """
    _check_rate(start_rate, "start_rate")
    unit = _unit_ns(time_unit)
    return _ramping_times(start_rate, stages, unit, stripe or Stripe.every())


def _ramping_times(
    start_rate: int, stages: Sequence[Stage], unit: int, stripe: Stripe
) -> Iterator[int]:
    owned = stripe.indices()
    g = next(owned, None)
    area = Fraction(0)
    stage_start = 0
    a = start_rate
    for stage in stages:
        b, dur = stage.target, _to_ns(stage.duration)
        area_end = area + Fraction(dur * (a + b), 2 * unit)
        while g is not None and g + 1 <= area_end:
            yield stage_start + _ramp_time_ns(a, b, dur, unit, g + 1 - area)
            g = next(owned, None)
        area, a, stage_start = area_end, b, stage_start + dur


def ramping_arrival_offsets(
    start_rate: int, stages: Sequence[Stage], time_unit: float, stripe: Stripe | None = None
) -> Iterator[float]:
    """Start offsets (seconds) of the ramping-arrival-rate iterations that run: those of
    ``ramping_arrival_times_ns`` before the end of the stages. Arguments are checked at
    call time, not on the first next()."""
    _check_rate(start_rate, "start_rate")
    unit = _unit_ns(time_unit)
    end = sum(_to_ns(s.duration) for s in stages)
    return _before(_ramping_times(start_rate, stages, unit, stripe or Stripe.every()), end)


def _before(times: Iterator[int], end: int) -> Iterator[float]:
    for t in times:
        if t >= end:
            return
        yield t / _NS


def ramping_arrival_count(
    start_rate: int, stages: Sequence[Stage], time_unit: float, stripe: Stripe | None = None
) -> int:
    """How many offsets ``ramping_arrival_offsets`` yields, in O(stages), not iterating.

    The global count is the whole part of the total area, less the last iteration when it
    falls exactly on the end; the stripe owns its share of those.
    """
    _check_rate(start_rate, "start_rate")
    unit = _unit_ns(time_unit)
    area = Fraction(0)
    start = 0
    a = start_rate
    total = 0
    last_at = -1
    for stage in stages:
        b, dur = stage.target, _to_ns(stage.duration)
        area_end = area + Fraction(dur * (a + b), 2 * unit)
        n = area_end.numerator // area_end.denominator
        if n > total:  # the latest iteration so far falls in this stage
            total = n
            last_at = start + _ramp_time_ns(a, b, dur, unit, n - area)
        area, a, start = area_end, b, start + dur
    if total and last_at >= start:
        total -= 1
    return (stripe or Stripe.every()).count_below(total)
