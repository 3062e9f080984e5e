"""k6-style options (a plain dict, k6's own keys) -> frozen, validated dataclasses.

``parse_options`` reports every problem it finds in one ``OptionsError``, each message
naming the key path and quoting the bad value; nothing is guessed or silently dropped.
Executor defaults and rules follow k6's executor configs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from veza_ray.core import trend_stats
from veza_ray.core.durations import DEFAULT_MAX_BODY, parse_k6_duration, parse_size
from veza_ray.core.executors import EXECUTORS as EXECUTOR_TABLE
from veza_ray.core.executors.base import Reader, ScenarioConfig, parse_duration, unset_none
from veza_ray.core.http_params import BadParam, redirect_limit
from veza_ray.core.metrics import DEFAULT_TREND_STATS
from veza_ray.core.redirects import MAX_REDIRECTS

__all__ = [
    "DEFAULT_TREND_STATS",
    "EXECUTORS",
    "Options",
    "OptionsError",
    "ScenarioConfig",
    "parse_duration",
    "parse_options",
    "parse_trend_stats",
]

EXECUTORS = tuple(EXECUTOR_TABLE)  # the names; veza_ray.core.executors holds the pairs

_COMMON_KEYS = {"executor", "startTime", "gracefulStop", "exec", "tags", "env"}
_TOP_KEYS = {
    "scenarios",
    "thresholds",
    "discardResponseBodies",
    "summaryTrendStats",
    "summaryTimeUnit",
    "vus",
    "duration",
    "iterations",
    "stages",
    "userAgent",
    "noConnectionReuse",
    "insecureSkipTLSVerify",
    "maxResponseBodySize",
    "tags",
    "setupTimeout",  # setup() and teardown() (engine/lifecycle.py), 60 s by default
    "teardownTimeout",
    "batch",  # http.batch() limits (engine/batch.py): in flight, and per host
    "batchPerHost",
    "maxRedirects",  # redirects a request follows (engine/http.py), 10 by default
}
_NAME_RE = re.compile(r"^[0-9A-Za-z_-]{1,100}$")


class OptionsError(ValueError):
    """Every problem found in a scenario's options, one message each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Options:
    """A scenario file's options, validated; ``raw`` keeps the dict for the summary."""

    scenarios: tuple[ScenarioConfig, ...]
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    discard_response_bodies: bool = False
    summary_trend_stats: tuple[str, ...] = DEFAULT_TREND_STATS
    user_agent: str | None = None
    no_connection_reuse: bool = False
    insecure_skip_tls_verify: bool = False
    max_response_body_size: int = DEFAULT_MAX_BODY  # kept bodies past it fail (code 1702)
    max_redirects: int = MAX_REDIRECTS  # k6's maxRedirects: 0 returns the 3xx itself
    tags: tuple[tuple[str, str], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what k6 would log as a warning, e.g. an ignored `vus`

    def with_run_tags(self, tags: Mapping[str, str]) -> Options:
        """``--tag`` given: it replaces the script's ``tags`` option, as k6's command line
        replaces its run tags (Options.Apply); none given: the script's stay."""
        return replace(self, tags=tuple(sorted(tags.items()))) if tags else self


def _scenario(name: str, raw: object, c: Reader) -> ScenarioConfig | None:
    where = f"scenarios.{name}"
    if not _NAME_RE.match(name):
        c.fail(where, "scenario names may use letters, digits, '_' and '-' only")
    if not isinstance(raw, Mapping):
        c.fail(where, f"{raw!r} must be an object")
        return None
    raw = unset_none(raw)
    executor = raw.get("executor")
    pair = EXECUTOR_TABLE.get(executor) if isinstance(executor, str) else None
    if pair is None:
        c.fail(f"{where}.executor", f"{executor!r} is not one of {', '.join(EXECUTOR_TABLE)}")
        return None
    allowed = _COMMON_KEYS | pair.config.KEYS
    for key in sorted(set(raw) - allowed):
        c.fail(f"{where}.{key}", f"is not an option of the {executor} executor")
    exec_name = raw.get("exec", "default")
    if not isinstance(exec_name, str) or not exec_name.isidentifier():
        c.fail(f"{where}.exec", f"{exec_name!r} is not a function name")
        exec_name = "default"
    common: dict[str, Any] = {
        "name": name,
        "executor": executor,
        "exec": exec_name,
        "start_time": c.duration(raw, "startTime", where, 0.0),
        "graceful_stop": c.duration(raw, "gracefulStop", where, 30.0),
        "tags": c.str_map(raw, "tags", where),
        "env": c.str_map(raw, "env", where),
    }
    return pair.config.parse(common, raw, where, c)


def _shortcut_scenario(raw: Mapping[str, Any], c: Reader, warnings: list[str]) -> dict[str, Any]:
    """k6 v1.1's DeriveScenariosFromShortcuts: top-level vus/duration/iterations/stages
    become one 'default' scenario; ``vus`` alone is ignored with a warning, as in k6."""
    stages = raw.get("stages")
    for other in ("duration", "iterations"):
        if stages and other in raw:
            c.fail(
                "options",
                f"using `{other}` and `stages` options simultaneously is not allowed",
            )
    if "iterations" in raw:
        out = {"executor": "shared-iterations", "iterations": raw["iterations"]}
        out["vus"] = raw.get("vus", 1)
        if "duration" in raw:
            out["maxDuration"] = raw["duration"]
        return out
    if "duration" in raw:
        return {"executor": "constant-vus", "vus": raw.get("vus", 1), "duration": raw["duration"]}
    if stages:
        return {"executor": "ramping-vus", "startVUs": raw.get("vus", 1), "stages": stages}
    vus = raw.get("vus")
    if vus is not None and vus != 1:
        warnings.append(
            f"`vus={vus}` option will be ignored, it only works in conjunction with "
            "`iterations`, `duration`, or `stages`"
        )
    if stages is not None:
        warnings.append(
            "`stages` was explicitly set to an empty value, running the script with "
            "1 iteration in 1 VU"
        )
    return {"executor": "per-vu-iterations", "vus": 1, "iterations": 1}


def parse_options(raw: object) -> Options:
    """Validate a scenario file's ``options`` dict; raise OptionsError listing every problem."""
    c = Reader()
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise OptionsError([f"options: {type(raw).__name__} given, a dict is needed"])
    given = raw
    raw = unset_none(raw)
    warnings: list[str] = []
    for key in sorted(set(raw) - _TOP_KEYS):
        c.fail(f"options.{key}", "is not an option veza-ray knows")
    _check_lifecycle_and_batch(raw, c)
    scen_raw = raw.get("scenarios")
    if scen_raw is None:
        scen_raw = {"default": _shortcut_scenario(raw, c, warnings)}
    elif any(k in raw for k in ("duration", "iterations")) or raw.get("stages"):
        c.fail("options", "use either scenarios or the duration/iterations/stages shortcuts")
    scenarios: list[ScenarioConfig] = []
    if not isinstance(scen_raw, Mapping) or not scen_raw:
        c.fail("options.scenarios", "must be a non-empty object of named scenarios")
    else:
        for name, sc in scen_raw.items():
            parsed = _scenario(str(name), sc, c)
            if parsed is not None:
                scenarios.append(parsed)
    thresholds = raw.get("thresholds", {})
    if not isinstance(thresholds, Mapping):
        c.fail("options.thresholds", f"{thresholds!r} must be an object")
        thresholds = {}
    stats = DEFAULT_TREND_STATS
    if "summaryTrendStats" in raw:
        stats = parse_trend_stats(raw["summaryTrendStats"], c)
    discard = raw.get("discardResponseBodies", False)
    if not isinstance(discard, bool):
        c.fail("options.discardResponseBodies", f"{discard!r} must be true or false")
        discard = False
    flags = {}
    for key in ("noConnectionReuse", "insecureSkipTLSVerify"):
        flags[key] = raw.get(key, False)
        if not isinstance(flags[key], bool):
            c.fail(f"options.{key}", f"{flags[key]!r} must be true or false")
    max_body = DEFAULT_MAX_BODY
    if raw.get("maxResponseBodySize") is not None:
        try:
            max_body = parse_size(raw["maxResponseBodySize"])
        except ValueError as exc:
            c.fail("options.maxResponseBodySize", str(exc))
    top_tags = c.str_map(raw, "tags", "options")
    ua = raw.get("userAgent")
    if ua is not None and not isinstance(ua, str):
        c.fail("options.userAgent", f"{ua!r} must be a string")
        ua = None
    max_redirects = MAX_REDIRECTS
    if raw.get("maxRedirects") is not None:
        try:
            max_redirects = redirect_limit(raw["maxRedirects"], "maxRedirects")
        except BadParam as exc:
            c.fail("options.maxRedirects", str(exc))
    if c.errors:
        raise OptionsError(c.errors)
    return Options(
        scenarios=tuple(scenarios),
        thresholds=thresholds,
        discard_response_bodies=discard,
        summary_trend_stats=stats,
        user_agent=ua,
        no_connection_reuse=bool(flags["noConnectionReuse"]),
        insecure_skip_tls_verify=bool(flags["insecureSkipTLSVerify"]),
        max_response_body_size=max_body,
        max_redirects=max_redirects,
        tags=top_tags,
        raw=dict(given),
        warnings=tuple(warnings),
    )


def _check_lifecycle_and_batch(raw: Mapping[str, Any], c: Reader) -> None:
    """``batch``/``batchPerHost`` (http.batch) and ``setupTimeout``/``teardownTimeout``:
    checked here, read where they are used (engine/batch.py, engine/lifecycle.py)."""
    for key in ("batch", "batchPerHost"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            c.fail(f"options.{key}", "must be a whole number of requests, 0 or more")
    for key in ("setupTimeout", "teardownTimeout"):
        if key in raw:
            try:
                parse_k6_duration(raw[key])
            except ValueError as exc:
                c.fail(f"options.{key}", str(exc))


def parse_trend_stats(value: object, c: Reader | None = None) -> tuple[str, ...]:
    """summaryTrendStats / --summary-trend-stats: avg, min, med, max, count, p(N)."""
    own = c or Reader()
    items = value.split(",") if isinstance(value, str) and value.strip() else value
    if isinstance(value, str) and not value.strip():
        items = []  # k6: `--summary-trend-stats ""` shows no trend stats
    out: list[str] = []
    if not isinstance(items, (list, tuple)):
        own.fail("summaryTrendStats", f"{value!r} must be a list of stats")
    else:
        for item in items:
            text = str(item).strip()
            if not trend_stats.is_stat(text, trend_stats.SUMMARY):
                own.fail(
                    "summaryTrendStats",
                    f'"{text}" is not one of {trend_stats.describe(trend_stats.SUMMARY)}',
                )
                continue
            out.append(text)
    if c is None and own.errors:
        raise OptionsError(own.errors)
    return tuple(out)
