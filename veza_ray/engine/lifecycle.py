"""k6's ``setup()`` and ``teardown()``: run once per test, in the driver, by one VU.

As in k6 (internal/js/runner.go, ``runPart``): the function runs in a VU of its own whose
samples carry ``group=::setup`` (``::teardown``) and no ``scenario`` tag; setup's return
value goes through JSON (``data`` is a copy: a VU that changes it changes nobody else's);
``setupTimeout``/``teardownTimeout`` (default 60 s) bound it; a throw is k6's exit 107,
a timeout 100 (setup) or 101 (teardown). The samples are handed back as wire series, for
the driver to merge into the run's totals.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from veza_ray.core import exitcodes
from veza_ray.core.durations import parse_k6_duration
from veza_ray.core.guards import SECRETS, parse_allowed
from veza_ray.core.metrics import MetricStore, SeriesWire
from veza_ray.core.options import Options
from veza_ray.engine.clock import MonotonicClock
from veza_ray.engine.context import vu_context
from veza_ray.engine.http import ClientHub, HostGuard, HttpClient
from veza_ray.engine.runner import VU, ScenarioRecorder, takes_data
from veza_ray.engine.scenario import LoadedScript, describe_exception

DEFAULT_TIMEOUT_S = 60.0
TIMEOUT_CODES = {"setup": exitcodes.SETUP_TIMEOUT, "teardown": exitcodes.TEARDOWN_TIMEOUT}


@dataclass
class PartResult:
    """What one setup() or teardown() left: its data (JSON text), samples and failure."""

    ran: bool = False
    data: str | None = None  # None: setup returned nothing (k6's undefined)
    series: list[SeriesWire] = field(default_factory=list)
    code: int = 0  # 0, 107 (it threw), 100/101 (it timed out)
    error: str = ""


def part_timeout(options: Options, name: str) -> float:
    raw = options.raw.get(f"{name}Timeout")
    return DEFAULT_TIMEOUT_S if raw is None else parse_k6_duration(raw)


def run_part(
    script: LoadedScript,
    options: Options,
    env: Mapping[str, str],
    name: str,
    data: str | None = None,
) -> PartResult:
    """Run ``setup`` or ``teardown`` if the script defines it (a fresh event loop)."""
    fn = script.flow(name)
    if fn is None:
        return PartResult(data=data)
    if not inspect.iscoroutinefunction(fn):
        return PartResult(
            True, None, [], exitcodes.SCRIPT_ERROR, f"{name}() must be an async function"
        )
    return asyncio.run(_run(script, options, env, name, fn, data))


async def _run(
    script: LoadedScript,
    options: Options,
    env: Mapping[str, str],
    name: str,
    fn: Callable[..., Any],
    data: str | None,
) -> PartResult:
    store = MetricStore(script.all_metrics)
    guard = HostGuard(parse_allowed((), env.get("VEZA_RAY_ALLOW_HOSTS")))
    hub = ClientHub(
        options.no_connection_reuse,
        options.insecure_skip_tls_verify,
        options.user_agent,
        guard=guard,
        max_body=options.max_response_body_size,
        max_redirects=options.max_redirects,
        expected=script.response_callback,
    )
    vu = VU(0, 0, name, ScenarioRecorder(store, dict(options.tags)), None, env, MonotonicClock())  # type: ignore[arg-type]
    vu.http = HttpClient(hub, vu.record_http, options.discard_response_bodies, guard=guard)
    vu.group = f"::{name}"
    token = vu_context.set(vu)
    result = PartResult(ran=True)
    try:
        args = (vu, None if data is None else json.loads(data)) if takes_data(fn) else (vu,)
        value = await asyncio.wait_for(fn(*args), part_timeout(options, name))
        result.data = None if value is None else json.dumps(value)
    except asyncio.TimeoutError:
        result.code = TIMEOUT_CODES[name]
        result.error = f"{name}() execution timed out after {part_timeout(options, name):g} s"
    except Exception as exc:  # a throw, or data that JSON cannot hold (k6: 107 both)
        result.code, result.error = exitcodes.SCRIPT_ERROR, _why(name, exc, script)
    finally:
        vu_context.reset(token)
        await hub.close()
    result.series = store.drain()
    return result


def _why(name: str, exc: BaseException, script: LoadedScript) -> str:
    return SECRETS.redact(f"{name}() failed: {describe_exception(exc, script.path)}")
