"""The two contexts a scenario file's code runs in, passed through ContextVars.

Scenario code calls ``env()``, ``check()`` or ``Trend.add()`` with no context argument,
as k6 scripts do. Rather than module globals (which tests would have to reset by hand),
the loader and the runner set a ContextVar for exactly the code they run: a
``LoadContext`` while the module is imported, the running VU while a flow executes.
asyncio copies context into each task, so every VU coroutine sees its own VU.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from veza_ray.core.metric_types import MetricDef

if TYPE_CHECKING:
    from veza_ray.core.metric_types import Tags


@dataclass
class LoadContext:
    """What module-level code sees while a scenario file is imported."""

    env: Mapping[str, str]
    metrics: dict[str, MetricDef] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    folder: str = "."  # the scenario file's directory: open()'s relative paths start here
    opened: list[str] = field(default_factory=list)  # files open() read: inputs of the run
    datafiles: list[Any] = field(default_factory=list)  # DataFiles built (engine/data.py)
    # set_response_callback() at module level (k6's http.setResponseCallback in init):
    # every VU's client starts with it; None: k6's default (200-399 expected).
    response_callback: Any = None


class Recorder(Protocol):
    """What a running VU offers to check(), sleep() and custom metrics."""

    env: Mapping[str, str]
    group: str  # k6's group path, "" outside any group

    def record(self, name: str, value: float, extra: Tags | None = None) -> None: ...

    async def sleep(self, seconds: float) -> None: ...


load_context: ContextVar[LoadContext | None] = ContextVar("veza_ray_load", default=None)
vu_context: ContextVar[Recorder | None] = ContextVar("veza_ray_vu", default=None)
