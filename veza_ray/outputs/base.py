"""The output protocol: what the driver hands every output, once per interval.

In the spirit of k6's Output interface (start / add samples / stop), but an output here
is fed the MERGED, cluster-wide interval, never raw samples: the live view, NDJSON, the
abortOnFail check and Prometheus all see the same numbers the thresholds are judged on.
Adding an output is one class with these three methods (and ``for_run``, which builds it
from its target) and one entry in ``core/output_kinds.py``; the loop does not change.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping, Sequence
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
    tree: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # node -> aggregator


@dataclass
class OutputEnd:
    """What an output leaves for the summary and for the outcome."""

    name: str
    summary: dict[str, Any] | None = None  # under veza_ray.outputs[name]
    failures: list[str] = field(default_factory=list)  # notes: nothing the user asked lost
    lost: list[str] = field(default_factory=list)  # what of it was lost, and how much (113)


@dataclass(frozen=True)
class OutputContext:
    """What an output built from its target (``for_run``) may need from the run."""

    env: Mapping[str, str]
    allowed_hosts: frozenset[str]
    log: Callable[[str], None]
    stop: Callable[[str], None] | None = None  # stop the run as Ctrl-C does (105), saying who


def load_impl(spec: str) -> Any:
    """The class or function an ``output_kinds`` entry names as ``module:attribute``."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


class Output(Protocol):
    """start / interval / end; ``interval`` runs on the driver's loop and must be cheap."""

    name: str

    def start(self, run: RunStart) -> None: ...

    def interval(self, iv: Interval) -> None: ...

    def end(self) -> OutputEnd: ...


def finish_all(outputs: Sequence[object], summary: Mapping[str, Any] | None) -> None:
    """After the outcome: ``finish(summary)`` of the outputs that have one (the dashboard
    shows the final verdict, then closes); never raises."""
    for output in outputs:
        finish = getattr(output, "finish", None)
        if finish is not None:
            with contextlib.suppress(Exception):  # the run's result is already written
                finish(summary)
