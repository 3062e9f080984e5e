"""Executors as pairs: each one's config half and runner half in one module, one table.

An executor module (``constant_vus.py``, ...) holds

- its config class, a ``ScenarioConfig`` subclass (base.py): the validation of its own
  option keys, its split into one segment per actor (k6's segment arithmetic,
  segments.py), its planned totals, run duration, VU needs and resumption after a loss;
- ``run``, the coroutine that runs one segment inside a runner, written against the
  ``SegmentRun`` protocol (base.py) and the pure schedules (schedule.py).

Purity. Nothing in this package imports asyncio, the HTTP stack or Ray: a ``run`` is only
an ``async def`` over the protocol, and runner.py, which implements the protocol, imports
this table, never the other way round. So options, plan, merge, inspect and sizing ask an
executor's config without loading the engine.

``EXECUTORS`` below is the only list of executors. ``parse_options`` refuses a name not
in it (exit code 104, before any traffic), and the runner dispatches by looking the name
up here, so an unknown executor cannot reach a runner. Adding one: a new module with its
config class and ``run``, and one line here.
"""

from __future__ import annotations

from typing import NamedTuple

from veza_ray.core.executors import (
    constant_arrival_rate,
    constant_vus,
    per_vu_iterations,
    ramping_arrival_rate,
    ramping_vus,
    shared_iterations,
)
from veza_ray.core.executors.base import RunSegment, ScenarioConfig, SegmentRun


class Executor(NamedTuple):
    config: type[ScenarioConfig]
    run: RunSegment


# k6's executor names, in the order error messages list them.
EXECUTORS: dict[str, Executor] = {
    "constant-vus": Executor(constant_vus.ConstantVUs, constant_vus.run),
    "ramping-vus": Executor(ramping_vus.RampingVUs, ramping_vus.run),
    "per-vu-iterations": Executor(per_vu_iterations.PerVUIterations, per_vu_iterations.run),
    "shared-iterations": Executor(shared_iterations.SharedIterations, shared_iterations.run),
    "constant-arrival-rate": Executor(
        constant_arrival_rate.ConstantArrivalRate, constant_arrival_rate.run
    ),
    "ramping-arrival-rate": Executor(
        ramping_arrival_rate.RampingArrivalRate, ramping_arrival_rate.run
    ),
}


def executor(name: str) -> Executor:
    """The pair for ``name``; a name not in the table is refused, never defaulted."""
    try:
        return EXECUTORS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not one of {', '.join(EXECUTORS)}") from None


__all__ = ["EXECUTORS", "Executor", "ScenarioConfig", "SegmentRun", "executor"]
