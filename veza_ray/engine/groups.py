"""k6's ``group()``: a named, nested part of an iteration.

Every sample recorded inside carries the ``group`` tag (``::outer::inner``), the group's
own time is a ``group_duration`` sample tagged with its path, and checks are reported per
group in the summary. Usable as ``async with group("login"):`` or, as in k6,
``await group("login", fn)`` (the value of ``fn()`` is returned).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from veza_ray.engine.context import Recorder, vu_context

SEPARATOR = "::"


class Group:
    """One entry into a group by the running VU."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or SEPARATOR in name:
            # k6: "group and check names may not contain '::'" (lib/models.go)
            raise ValueError(f"group name {name!r}: group names may not contain '::'")
        self.name = name
        self.vu: Recorder | None = None
        self.outer = ""
        self.t0 = 0.0

    async def __aenter__(self) -> Group:
        vu = vu_context.get()
        if vu is None:
            raise RuntimeError("group() can only be used while a VU runs a flow function")
        self.vu, self.outer = vu, vu.group
        # k6's lib.NewGroupPath: an empty name at the root stays the root
        vu.group = "" if not (self.outer or self.name) else f"{self.outer}{SEPARATOR}{self.name}"
        self.t0 = time.perf_counter()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.vu is not None
        try:  # k6 records it whether the function returned or threw (k6.go, Group)
            self.vu.record("group_duration", (time.perf_counter() - self.t0) * 1000.0)
        finally:
            self.vu.group = self.outer


async def run_group(name: str, fn: Callable[[], Any]) -> Any:
    async with Group(name):
        result = fn()
        if inspect.isawaitable(result):
            result = await result
        return result


def group(name: str, fn: Callable[[], Any] | None = None) -> Any:
    """k6's ``group(name, fn)``: ``await group(name, fn)``, or ``async with group(name):``."""
    if fn is None:
        return Group(name)
    return run_group(name, fn)
