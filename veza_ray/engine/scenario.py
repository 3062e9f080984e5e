"""Load a scenario file: its options, flow functions, custom metrics and handle_summary.

The driver loads the file to validate it before any traffic; every actor loads the same
source text (shipped by the driver, so nodes need no copy of the file) with the same
resolved environment, so module-level ``env()`` calls agree everywhere.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from veza_ray.core.guards import SECRETS
from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef
from veza_ray.core.stop import StopRequested
from veza_ray.engine.context import LoadContext, load_context


class ScriptError(Exception):
    """The file could not be read, compiled or imported (k6's exit 107)."""


class ScriptOptionsError(Exception):
    """The file loaded but what it declares is invalid (k6's exit 104)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class LoadedScript:
    path: str
    source: str
    module: types.ModuleType
    raw_options: Any
    metrics: dict[str, MetricDef] = field(default_factory=dict)
    # Files the load read besides the scenario: open()'s, and modules imported from its
    # directory, as (what, path); no output of the run may overwrite one (core/overlap).
    inputs: list[tuple[str, str]] = field(default_factory=list)
    datafiles: list[Any] = field(default_factory=list)  # engine/data.py DataFiles it built
    response_callback: Any = None  # its module-level set_response_callback(), if any

    @property
    def all_metrics(self) -> dict[str, MetricDef]:
        return {**BUILTIN_METRICS, **self.metrics}

    def flow(self, name: str) -> Callable[..., Any] | None:
        fn = getattr(self.module, name, None)
        return fn if callable(fn) else None

    @property
    def handle_summary(self) -> Callable[[dict[str, Any]], Any] | None:
        fn = getattr(self.module, "handle_summary", None)
        return fn if callable(fn) else None


def read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise ScriptError(f"cannot read scenario file {path!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ScriptError(f"scenario file {path!r} is not UTF-8 text: {exc}") from exc


def load_script(path: str, env: Mapping[str, str], source: str | None = None) -> LoadedScript:
    """Import the scenario file as a fresh module with ``env`` visible to ``env()``."""
    if path.endswith((".js", ".mjs", ".cjs", ".ts")):
        raise ScriptError(
            f"{path} is a k6 (JavaScript) script: convert it with "
            f"`veza-ray convert {path} -o scenario.py`, then run the .py file"
        )
    text = read_source(path) if source is None else source
    digest = hashlib.sha1(f"{path}\0{text}".encode()).hexdigest()[:12]
    name = f"veza_ray_scenario_{digest}"
    module = types.ModuleType(name)
    module.__file__ = path
    folder = os.path.dirname(os.path.abspath(path))
    ctx = LoadContext(env=env, folder=folder)
    token = load_context.set(ctx)
    before = set(sys.modules)
    added = folder not in sys.path and os.path.isdir(folder)
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        code = compile(text, path, "exec")
        exec(code, module.__dict__)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        where = f"{exc.filename}:{exc.lineno}" if exc.lineno else str(exc.filename)
        raise ScriptError(f"syntax error in {where}: {exc.msg}") from exc
    except StopRequested:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # sys.exit() and KeyboardInterrupt raised by the script too
        sys.modules.pop(name, None)
        why = SECRETS.redact(describe_exception(exc, path))  # the exception may quote one
        raise ScriptError(f"error while loading {path}: {why}") from None
    finally:
        load_context.reset(token)
        if added:
            sys.path.remove(folder)
    if ctx.errors:
        raise ScriptOptionsError(ctx.errors)
    inputs = [("a file the scenario reads with open()", p) for p in ctx.opened]
    inputs += [("a data file the scenario reads (DataFile)", d.path) for d in ctx.datafiles]
    inputs += [("a module the scenario imports", p) for p in _local_modules(before, folder)]
    return LoadedScript(
        path,
        text,
        module,
        getattr(module, "options", {}),
        dict(ctx.metrics),
        inputs,
        list(ctx.datafiles),
        ctx.response_callback,
    )


def _local_modules(before: set[str], folder: str) -> list[str]:
    """The files of the modules the load imported from the scenario's own directory."""
    out = []
    for name in set(sys.modules) - before:
        if name.startswith("veza_ray_scenario_"):  # the scenario file itself
            continue
        where = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(where, str) and os.path.abspath(where).startswith(folder + os.sep):
            out.append(where)
    return sorted(out)


def check_flows(script: LoadedScript, exec_names: Mapping[str, str]) -> list[str]:
    """Errors for each scenario whose ``exec`` names no async function in the file."""
    errors = []
    for scenario, fname in exec_names.items():
        fn = script.flow(fname)
        if fn is None:
            errors.append(
                f"scenarios.{scenario}.exec: {fname!r} names no function in {script.path}"
            )
        elif not inspect.iscoroutinefunction(fn):
            errors.append(
                f"scenarios.{scenario}.exec: {fname!r} must be an async function (async def)"
            )
    return errors


def describe_exception(exc: BaseException, path: str) -> str:
    """The exception and the innermost line of the scenario file it came from."""
    line = ""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return f"{type(exc).__name__}: {exc}{line}"
