"""The output protocol: what the driver hands every output, once per interval.

In the spirit of k6's Output interface (start / add samples / stop), but an output here
is fed the MERGED, cluster-wide interval, never raw samples: the live view, NDJSON, the
abortOnFail check and Prometheus all see the same numbers the thresholds are judged on.
Adding an output is one class with these three methods and one line where the driver
builds its list (``driver._outputs``); the loop itself does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from veza_ray.core.merge import MergedRun
    from veza_ray.core.thresholds import Verdict


@dataclass(frozen=True)
class RunStart:
    """What is known when the VUs start."""

    script_path: str
    start_epoch: float
    planned_s: float
    scenarios: tuple[str, ...]
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Interval:
    """One driver round, merged: the per-scenario point, counters, verdicts so far."""

    now: float
    elapsed: float
    dt: float
    point: Mapping[str, Any]  # MergedRun.series[-1]: per-scenario reqs, rps, p95, p99, ...
    stats: Mapping[str, Mapping[str, int]]  # per-scenario VUs and iterations
    verdicts: Sequence[Verdict]
    where: str  # "N node(s), M actor(s)"
    run: MergedRun  # the cumulative merged state, read only


@dataclass
class OutputEnd:
    """What an output leaves for the summary and for the outcome's notes."""

    name: str
    summary: dict[str, Any] | None = None  # under veza_ray.outputs[name]
    failures: list[str] = field(default_factory=list)


class Output(Protocol):
    """start / interval / end; ``interval`` runs on the driver's loop and must be cheap."""

    name: str

    def start(self, run: RunStart) -> None: ...

    def interval(self, iv: Interval) -> None: ...

    def end(self) -> OutputEnd: ...
