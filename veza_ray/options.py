"""k6-style options (a plain dict, k6's own keys) -> frozen, validated dataclasses.

``parse_options`` reports every problem it finds in one ``OptionsError``, each message
naming the key path and quoting the bad value; nothing is guessed or silently dropped.
Executor defaults and rules follow k6's executor configs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veza_ray.durations import DEFAULT_MAX_BODY, parse_k6_duration, parse_size
from veza_ray.metrics import DEFAULT_TREND_STATS
from veza_ray.schedule import Stage

EXECUTORS = (
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
    "shared-iterations",
    "constant-arrival-rate",
    "ramping-arrival-rate",
)

_COMMON_KEYS = {"executor", "startTime", "gracefulStop", "exec", "tags", "env"}
_EXECUTOR_KEYS: dict[str, set[str]] = {
    "constant-vus": {"vus", "duration"},
    "ramping-vus": {"startVUs", "stages", "gracefulRampDown"},
    "per-vu-iterations": {"vus", "iterations", "maxDuration"},
    "shared-iterations": {"vus", "iterations", "maxDuration"},
    "constant-arrival-rate": {"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"},
    "ramping-arrival-rate": {"startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"},
}
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
}
_NAME_RE = re.compile(r"^[0-9A-Za-z_-]{1,100}$")
_TREND_STAT_RE = re.compile(r"^(avg|min|med|max|count|p\((\d+(\.\d+)?)\))$")




class OptionsError(ValueError):
    """Every problem found in a scenario's options, one message each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


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


@dataclass(frozen=True)
class ScenarioConfig:
    """One scenario: executor settings in seconds and plain numbers, k6 defaults applied."""

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

    @property
    def is_arrival_rate(self) -> bool:
        return self.executor.endswith("arrival-rate")

    @property
    def max_vus_needed(self) -> int:
        """VUs this scenario can hold at once (for ``vus_max`` and VU id ranges)."""
        if self.is_arrival_rate:
            return max(self.max_vus, self.pre_allocated_vus)
        if self.executor == "ramping-vus":
            return max([self.start_vus, *(s.target for s in self.stages)])
        return self.vus

    @property
    def run_duration(self) -> float:
        """Time the executor plans to run, before gracefulStop (k6's 'max duration')."""
        if self.executor in ("constant-vus", "constant-arrival-rate"):
            return self.duration
        if self.executor in ("ramping-vus", "ramping-arrival-rate"):
            return sum(s.duration for s in self.stages)
        return self.max_duration

    @property
    def end_time(self) -> float:
        """Latest instant (from test start) this scenario may still run, grace included.

        As k6: run_duration + gracefulStop for every executor; ramping-vus's
        gracefulRampDown happens inside that window, it does not extend it.
        """
        return self.start_time + self.run_duration + self.graceful_stop


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
    tags: tuple[tuple[str, str], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what k6 would log as a warning, e.g. an ignored `vus`


class _Collector:
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
                st = _unset_none(st)
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


def _scenario(name: str, raw: object, c: _Collector) -> ScenarioConfig | None:
    where = f"scenarios.{name}"
    if not _NAME_RE.match(name):
        c.fail(where, "scenario names may use letters, digits, '_' and '-' only")
    if not isinstance(raw, Mapping):
        c.fail(where, f"{raw!r} must be an object")
        return None
    raw = _unset_none(raw)
    executor = raw.get("executor")
    if executor not in EXECUTORS:
        c.fail(f"{where}.executor", f"{executor!r} is not one of {', '.join(EXECUTORS)}")
        return None
    assert isinstance(executor, str)
    allowed = _COMMON_KEYS | _EXECUTOR_KEYS[executor]
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
    if executor == "constant-vus":
        dur = c.duration(raw, "duration", where, 0.0)
        if "duration" not in raw or dur <= 0:
            c.fail(f"{where}.duration", "constant-vus needs a duration above 0")
        return ScenarioConfig(**common, vus=c.integer(raw, "vus", where, 1, 1), duration=dur)
    if executor == "ramping-vus":
        start_vus = c.integer(raw, "startVUs", where, 1)
        stages = c.stages(raw, where)
        if stages and max(start_vus, *(s.target for s in stages)) <= 0:
            c.fail(
                where,
                "either startVUs or one of the stages' target values must be greater than 0",
            )
        return ScenarioConfig(
            **common,
            start_vus=start_vus,
            stages=stages,
            graceful_ramp_down=c.duration(raw, "gracefulRampDown", where, 30.0),
        )
    if executor in ("per-vu-iterations", "shared-iterations"):
        vus = c.integer(raw, "vus", where, 1, 1)
        iters = c.integer(raw, "iterations", where, 1, 1)
        if executor == "shared-iterations" and iters < vus:
            c.fail(
                f"{where}.iterations",
                f"the number of iterations ({iters}) can't be less than the number of VUs ({vus})",
            )
        max_dur = c.duration(raw, "maxDuration", where, 600.0)
        if max_dur <= 0:
            c.fail(f"{where}.maxDuration", "must be above 0")
        return ScenarioConfig(**common, vus=vus, iterations=iters, max_duration=max_dur)
    # arrival-rate executors
    time_unit = c.duration(raw, "timeUnit", where, 1.0)
    if time_unit <= 0:
        c.fail(f"{where}.timeUnit", "must be above 0")
        time_unit = 1.0
    if "preAllocatedVUs" not in raw:
        c.fail(f"{where}.preAllocatedVUs", f"is required by the {executor} executor")
    pre = c.integer(raw, "preAllocatedVUs", where, 1)
    max_vus = c.integer(raw, "maxVUs", where, pre)
    if max_vus < pre:
        c.fail(f"{where}.maxVUs", f"({max_vus}) can't be less than preAllocatedVUs ({pre})")
    if max_vus < 1:
        c.fail(f"{where}.maxVUs", "needs at least one VU (preAllocatedVUs or maxVUs)")
    arrival: dict[str, Any] = {"time_unit": time_unit, "pre_allocated_vus": pre, "max_vus": max_vus}
    if executor == "constant-arrival-rate":
        if "rate" not in raw:
            c.fail(f"{where}.rate", "is required by the constant-arrival-rate executor")
        rate = float(c.integer(raw, "rate", where, 0))  # k6's rate is a whole number
        if "rate" in raw and rate <= 0:
            c.fail(f"{where}.rate", "must be above 0")
        dur = c.duration(raw, "duration", where, 0.0)
        if dur <= 0:
            c.fail(f"{where}.duration", "constant-arrival-rate needs a duration above 0")
        return ScenarioConfig(**common, **arrival, rate=rate, start_rate=rate, duration=dur)
    return ScenarioConfig(
        **common,
        **arrival,
        start_rate=float(c.integer(raw, "startRate", where, 0)),  # k6: a whole number
        stages=c.stages(raw, where),
    )


def _shortcut_scenario(
    raw: Mapping[str, Any], c: _Collector, warnings: list[str]
) -> dict[str, Any]:
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


def _unset_none(d: Mapping[str, Any]) -> dict[str, Any]:
    """k6 reads a null option as 'not set': drop None values so defaults apply."""
    return {k: v for k, v in d.items() if v is not None}


def parse_options(raw: object) -> Options:
    """Validate a scenario file's ``options`` dict; raise OptionsError listing every problem."""
    c = _Collector()
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise OptionsError([f"options: {type(raw).__name__} given, a dict is needed"])
    given = raw
    raw = _unset_none(raw)
    warnings: list[str] = []
    for key in sorted(set(raw) - _TOP_KEYS):
        c.fail(f"options.{key}", "is not an option veza-ray knows")
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
        tags=top_tags,
        raw=dict(given),
        warnings=tuple(warnings),
    )


def parse_trend_stats(value: object, c: _Collector | None = None) -> tuple[str, ...]:
    """summaryTrendStats / --summary-trend-stats: avg, min, med, max, count, p(N)."""
    own = c or _Collector()
    items = value.split(",") if isinstance(value, str) and value.strip() else value
    if isinstance(value, str) and not value.strip():
        items = []  # k6: `--summary-trend-stats ""` shows no trend stats
    out: list[str] = []
    if not isinstance(items, (list, tuple)):
        own.fail("summaryTrendStats", f"{value!r} must be a list of stats")
    else:
        for item in items:
            text = str(item).strip()
            m = _TREND_STAT_RE.match(text)
            if not m or (m.group(2) is not None and not 0 <= float(m.group(2)) <= 100):
                own.fail(
                    "summaryTrendStats", f'"{text}" is not one of avg, min, med, max, count, p(N)'
                )
                continue
            out.append(text)
    if c is None and own.errors:
        raise OptionsError(own.errors)
    return tuple(out)
