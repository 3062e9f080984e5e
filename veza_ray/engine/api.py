"""The scenario author's API: check, sleep, env and custom metrics, named as in k6."""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from veza_ray.core.guards import SECRETS
from veza_ray.core.http_params import response_callback as read_callback
from veza_ray.core.metric_types import (
    BUILTIN_METRICS,
    METRIC_NAME_RE,
    MetricDef,
    MetricType,
    Tags,
    ValueType,
    make_tags,
)
from veza_ray.engine.context import load_context, vu_context
from veza_ray.engine.cookies import CookieJar
from veza_ray.engine.data import DataFile, SharedArray
from veza_ray.engine.execution import execution
from veza_ray.engine.groups import group
from veza_ray.engine.h1 import FileData

__all__ = [
    "CookieJar", "Counter", "DataFile", "Gauge", "Rate", "SharedArray", "Trend", "check",
    "env", "execution", "fail", "file", "group", "set_response_callback", "sleep",
]  # fmt: skip


class Failure(Exception):
    """k6's ``fail()``: ends this iteration with an error; the VU goes on."""


def fail(message: str = "") -> NoReturn:
    """k6's ``fail(err)``: abort this iteration (counted in the summary's errors)."""
    raise Failure(message)


T = TypeVar("T")


def set_response_callback(callback: Any) -> None:
    """k6's ``http.setResponseCallback()``. At module level (k6's init code) it is every
    VU's default; inside a VU function it changes that VU's later requests. None is k6's
    ``null``: no ``expected_response`` tag and no ``http_req_failed`` sample; else
    expected statuses (``expected_statuses(200, (400, 404))``, a set) or a predicate."""
    value = read_callback(callback, "set_response_callback")
    vu = vu_context.get()
    if vu is not None:
        http = getattr(vu, "http", None)
        if http is not None:
            http.set_response_callback(callback)
        return
    ctx = load_context.get()
    if ctx is None:
        raise RuntimeError(
            "set_response_callback() works at module level or while a VU runs a flow"
        )
    ctx.response_callback = value


def env(name: str, default: str | None = None, *, secret: bool = False) -> str | None:
    """k6's ``__ENV[name]``: ``-e NAME=VALUE`` first, then the driver's process environment.

    Actors receive the driver's resolved environment, so a flow sees the same value on
    every node as the driver saw when it read the options. ``secret=True`` declares the
    value a secret (redacted in all output) when its name does not already say so; the
    script runs in the driver and in every actor, so each process learns it.
    """
    vu = vu_context.get()
    if vu is not None:
        value = vu.env.get(name, default)
    else:
        ctx = load_context.get()
        value = ctx.env.get(name, default) if ctx is not None else os.environ.get(name, default)
    if secret and value:
        SECRETS.add(value)
    return value


def file(
    data: bytes | str, filename: str | None = None, content_type: str = "application/octet-stream"
) -> FileData:
    """k6's ``http.file()``: a file part for a multipart form, sent when a dict body
    (``data={"upload": file(b"...", "a.bin")}``) holds one; also ``vu.http.file``."""
    return FileData(data, filename, content_type)


def open(path: str, mode: str = "") -> str | bytes:
    """k6's ``open()``: a file's content read while the scenario file loads (module level),
    text, or bytes with ``mode="b"``; a relative path starts at the scenario's directory.

    The run records every file read this way as an input, so no output of the run may
    overwrite it (refused with exit 104 before any load). Every actor reads the file
    again where it runs: with ``veza-ray run --address`` it must exist on every node
    (``veza-ray submit`` ships the scenario's directory with the job).
    """
    ctx = load_context.get()
    if ctx is None:
        raise RuntimeError("open() reads files while the scenario file loads (module level)")
    if mode not in ("", "b"):
        raise ValueError(f"open({path!r}, {mode!r}): mode is '' (text) or 'b' (bytes)")
    full = os.path.join(ctx.folder, path)
    ctx.opened.append(full)
    with builtins.open(full, "rb") as fh:
        data = fh.read()
    return data if mode == "b" else data.decode("utf-8")


async def sleep(seconds: float) -> None:
    """k6's ``sleep()``, awaited: pauses this VU only, and ends early when the VU is stopped."""
    vu = vu_context.get()
    if vu is None:
        await asyncio.sleep(seconds)
    else:
        await vu.sleep(seconds)


def check(
    value: T, checks: Mapping[str, Callable[[T], Any]], tags: Mapping[str, str] | None = None
) -> bool:
    """k6's ``check()``: records one ``checks`` sample per predicate; True when all pass.

    As in k6, a predicate that raises interrupts the iteration (the runner counts it).
    """
    vu = vu_context.get()
    if vu is None:
        raise RuntimeError("check() can only be called while a VU runs a flow function")
    ok_all = True
    for name, predicate in checks.items():
        # the memo's common key inline (no tags); a miss builds it
        extra = None if tags else _CHECK_TAGS.get((name, None))
        if extra is None:
            extra = _check_tags(name, tags)
        try:
            ok = bool(predicate(value)) if callable(predicate) else bool(predicate)
        except BaseException:
            vu.record("checks", 0.0, extra)  # k6: a throwing check fails, then rethrows
            raise
        ok_all = ok_all and ok
        vu.record("checks", 1.0 if ok else 0.0, extra)
    return ok_all


# Identity, never display: check names and tags as given (outputs redact them when they
# write). Owned by the book, so ``SECRETS.clear()`` resets it with it.
_CHECK_TAGS: dict[tuple[str, tuple[tuple[str, str], ...] | None], Tags] = SECRETS.owns({})


def _check_tags(name: str, tags: Mapping[str, str] | None) -> Tags:
    """The tag set of one check, built once per (check name, tags) (a bounded memo)."""
    key = (name, tuple(tags.items()) if tags else None)
    hit = _CHECK_TAGS.get(key)
    if hit is None:
        hit = make_tags({**(tags or {}), "check": name})
        if len(_CHECK_TAGS) < 10_000:
            _CHECK_TAGS[key] = hit
    return hit


class _Metric:
    """A custom metric declared at module level; ``add`` records into the running VU's store."""

    kind: MetricType = MetricType.COUNTER

    def __init__(self, name: str, contains: ValueType = ValueType.DEFAULT) -> None:
        self.name = name
        self.definition = MetricDef(name, self.kind, contains)
        ctx = load_context.get()
        problem = _name_problem(name, self.definition, ctx.metrics if ctx else {})
        if ctx is not None:
            if problem:
                ctx.errors.append(problem)
            else:
                ctx.metrics[name] = self.definition
        elif problem and "already" not in problem:
            raise ValueError(problem)

    def add(self, value: float | bool, tags: Mapping[str, str] | None = None) -> None:
        vu = vu_context.get()
        if vu is None:
            raise RuntimeError(f"{self.name}.add() can only be called while a VU runs a flow")
        # Tag values as given: series match on them; every output redacts what it shows.
        vu.record(self.name, float(value), make_tags(dict(tags)) if tags else None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _name_problem(name: str, d: MetricDef, known: Mapping[str, MetricDef]) -> str | None:
    if not isinstance(name, str) or not METRIC_NAME_RE.match(name):
        return (
            f"invalid metric name {name!r}: use 2-129 letters, digits or underscores, "
            "not starting with a digit"
        )
    if name in BUILTIN_METRICS:
        return f"metric {name!r} is a built-in metric and cannot be redefined"
    prev = known.get(name)
    if prev is not None and prev != d:
        return (
            f"metric {name!r} is already defined as a {prev.type.value} "
            f"({prev.contains.value}); cannot redefine it as a {d.type.value}"
        )
    return None


class Counter(_Metric):
    """k6 Counter: a cumulative sum (``count``) and its per-second ``rate``."""

    kind = MetricType.COUNTER

    def __init__(self, name: str, data: bool = False) -> None:
        super().__init__(name, ValueType.DATA if data else ValueType.DEFAULT)


class Gauge(_Metric):
    """k6 Gauge: the latest value, with min and max."""

    kind = MetricType.GAUGE

    def __init__(self, name: str, time: bool = False) -> None:
        super().__init__(name, ValueType.TIME if time else ValueType.DEFAULT)


class Rate(_Metric):
    """k6 Rate: the share of non-zero values added."""

    kind = MetricType.RATE


class Trend(_Metric):
    """k6 Trend: a distribution (avg, min, med, max, p(N)); ``time=True`` for milliseconds."""

    kind = MetricType.TREND

    def __init__(self, name: str, time: bool = False) -> None:
        super().__init__(name, ValueType.TIME if time else ValueType.DEFAULT)
