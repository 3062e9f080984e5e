"""The two halves every executor provides, and what they share.

``ScenarioConfig`` is the config half: a frozen dataclass with every executor's fields (so
a summary, a test or an actor reads ``sc.vus`` the same whatever the executor); each
executor subclasses it and answers the questions the plan, the merge and the reports ask
(its split into segments, its planned totals, how long it runs, how many VUs it holds).

``SegmentRun`` is what the runner half gets: one scenario segment inside a runner, with the
few engine operations an executor needs (make a VU, run a VU loop, spawn, wait, sleep).
The runner (runner.py) implements it; this module and every executor module only name it
as a type, so they import no asyncio, no HTTP stack and no Ray.

``Reader`` reads option values out of the raw dict, collecting every error instead of
stopping at the first, so ``parse_options`` reports them all.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from veza_ray.core.durations import parse_k6_duration
from veza_ray.core.schedule import Stage
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


def parse_duration(value: object) -> float:
    """k6 duration -> seconds, as k6's ParseExtendedDuration reads it (``durations``).

    A number, or a string that is a plain decimal number ("500", "1000.001"), is
    milliseconds; otherwise Go's units ("30s", "1m30s", "1.5h", "250ms", "100us") with an
    optional leading day count ("1d12h"). Negative values are refused here.
    """
    try:
        return parse_k6_duration(value)
    except ValueError:
        raise ValueError(
            f'"{value}" is not a duration (write it as k6 does: "30s", "5m", "1m30s")'
            if isinstance(value, str)
            else f"{value!r} is not a duration"
        ) from None


def unset_none(d: Mapping[str, Any]) -> dict[str, Any]:
    """k6 reads a null option as 'not set': drop None values so defaults apply."""
    return {k: v for k, v in d.items() if v is not None}


class Reader:
    """Accumulates errors while reading values out of nested dicts."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def duration(self, d: Mapping[str, Any], key: str, where: str, default: float) -> float:
        if key not in d:
            return default
        try:
            return parse_duration(d[key])
        except ValueError as exc:
            self.fail(f"{where}.{key}", str(exc))
            return default

    def integer(
        self, d: Mapping[str, Any], key: str, where: str, default: int, minimum: int = 0
    ) -> int:
        if key not in d:
            return default
        v = d[key]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or v != int(v)
        ):
            self.fail(f"{where}.{key}", f"{v!r} is not a whole number")
            return default
        if v < minimum:
            self.fail(f"{where}.{key}", f"{v!r} must be at least {minimum}")
            return default
        return int(v)

    def number(self, d: Mapping[str, Any], key: str, where: str, default: float) -> float:
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            self.fail(f"{where}.{key}", f"{v!r} is not a non-negative number")
            return default
        return float(v)

    def str_map(self, d: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
        v = d.get(key, {})
        if not isinstance(v, Mapping) or not all(
            isinstance(k, str) and isinstance(x, str) for k, x in v.items()
        ):
            self.fail(f"{where}.{key}", f"{v!r} must map strings to strings")
            return ()
        return tuple(sorted(v.items()))

    def stages(self, d: Mapping[str, Any], where: str) -> tuple[Stage, ...]:
        raw = d.get("stages")
        if not isinstance(raw, list) or not raw:
            self.fail(f"{where}.stages", "needs a non-empty list of {duration, target}")
            return ()
        out: list[Stage] = []
        for i, st in enumerate(raw):
            w = f"{where}.stages[{i}]"
            if isinstance(st, Mapping):
                st = unset_none(st)
            if not isinstance(st, Mapping) or "duration" not in st or "target" not in st:
                self.fail(w, f"{st!r} needs both 'duration' and 'target'")
                continue
            extra = set(st) - {"duration", "target"}
            if extra:
                self.fail(w, f"unknown key(s) {', '.join(sorted(extra))}")
            out.append(
                Stage(self.duration(st, "duration", w, 0.0), self.integer(st, "target", w, 0))
            )
        return tuple(out)


@dataclass(frozen=True)
class ScenarioConfig(ABC):
    """One scenario: executor settings in seconds and plain numbers, k6 defaults applied.

    The config half of an executor. Subclasses add no fields, only their answers: the
    fields an executor does not use keep their defaults.
    """

    name: str
    executor: str
    exec: str = "default"
    start_time: float = 0.0
    graceful_stop: float = 30.0
    tags: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    vus: int = 1
    duration: float = 0.0
    iterations: int = 1
    max_duration: float = 600.0
    start_vus: int = 1
    stages: tuple[Stage, ...] = ()
    graceful_ramp_down: float = 30.0
    rate: float = 0.0
    start_rate: float = 0.0
    time_unit: float = 1.0
    pre_allocated_vus: int = 0
    max_vus: int = 0

    KEYS: ClassVar[frozenset[str]] = frozenset()  # the executor's own option keys
    is_arrival_rate: ClassVar[bool] = False  # open model: iterations start on a schedule
    has_iteration_budget: ClassVar[bool] = False  # a count of iterations, not time, decides

    @classmethod
    @abstractmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        """Read the executor's own keys of ``raw`` (unknown keys are already refused),
        reporting every problem to ``c``; ``common`` holds the fields every executor has."""

    @property
    @abstractmethod
    def max_vus_needed(self) -> int:
        """VUs this scenario can hold at once (for ``vus_max`` and VU id ranges)."""

    @property
    @abstractmethod
    def run_duration(self) -> float:
        """Time the executor plans to run, before gracefulStop (k6's 'max duration')."""

    @property
    def end_time(self) -> float:
        """Latest instant (from test start) this scenario may still run, grace included.

        As k6: run_duration + gracefulStop for every executor; ramping-vus's
        gracefulRampDown happens inside that window, it does not extend it.
        """
        return self.start_time + self.run_duration + self.graceful_stop

    @abstractmethod
    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        """The share of this scenario that execution segment ``et`` runs (plan.py)."""

    def planned_iterations(self, seg: Segment) -> int | None:
        """Iterations the segment plans to start; None where time, not a count, decides."""
        return None

    def planned_vu_seconds(self, seg: Segment) -> float:
        """VU-seconds the segment plans to deliver (used to measure what a loss cost)."""
        return seg.vus * self.run_duration

    def iterations_left(self, seg: Segment, done: int) -> int:
        """Of an iteration budget, what a lost segment did not start after ``done``."""
        return 0

    @classmethod
    def resume(cls, seg: Segment, done: int) -> Segment:
        """A lost segment for its replacement, ``done`` iterations in. Time-based
        executors need no change: the replacement starts on the original timeline."""
        return seg

    def peak_iterations_per_s(self) -> float | None:
        """The most iterations a second the plan starts; None for closed-model executors,
        whose pace the flow and the target decide."""
        return None


class TaskHandle(Protocol):
    """A running VU task (an asyncio.Task in the runner)."""

    def done(self) -> bool: ...

    def cancel(self) -> bool: ...


More = Callable[[Any, int], bool]  # (vu, iterations this VU ran) -> start another?


class SegmentRun(Protocol):
    """The runner half's view of one scenario segment inside a runner (runner.py).

    ``t0`` is the scenario's start on the runner's clock; counters the summary reports
    (``active``, ``allocated``, ``iterations``, ``undelivered``) are plain attributes.
    """

    cfg: ScenarioConfig
    seg: Segment
    t0: float
    active: int
    allocated: int
    iterations: int
    undelivered: int

    @property
    def stopping(self) -> bool: ...

    @property
    def late(self) -> bool:
        """True when this runner replaces a lost one and starts on a timeline under way."""
        ...

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> Awaitable[None]: ...

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None: ...

    def new_vu(self, slot: int) -> Any: ...

    def spawn(self, coro: Awaitable[None]) -> TaskHandle: ...

    def iteration(self, vu: Any) -> Awaitable[None]:
        """Run one iteration of the flow on ``vu``, recording it."""
        ...

    def vu_loop(
        self, vu: Any, more: More, end: float, active: Callable[[Any], bool] = ...
    ) -> Awaitable[None]:
        """Iterate on ``vu`` while ``more`` and ``active`` allow, until ``end``."""
        ...

    def run_vus(self, count: int, more: More, end: float) -> Awaitable[None]:
        """Start ``count`` VUs looping until ``end``, then ``finish``."""
        ...

    def finish(self, end: float) -> Awaitable[None]:
        """Wait for the planned end, then up to gracefulStop for iterations in flight."""
        ...

    def drop(self) -> None:
        """Count one iteration that had no free VU (k6's dropped_iterations)."""
        ...


RunSegment = Callable[[SegmentRun], Awaitable[None]]


def vu_segment(sc: ScenarioConfig, et: ExecutionTuple, vu_id_base: int, iterations: int) -> Segment:
    """A closed-model segment: the scenario's VUs striped over the sequence (k6)."""
    vus = et.scale(sc.max_vus_needed)
    return Segment(sc.name, et.index, len(et.sequence), vus, vus, iterations, vu_id_base)
