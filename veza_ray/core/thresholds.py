"""k6 thresholds: parse ``metric{tag:value}`` keys and ``p(95)<500`` expressions, then judge.

Pure: no I/O, no clock. The driver owns the numbers; this module says what they must satisfy.
As in k6's ``metrics/thresholds_parser.go``, each expression is scanned (split into raw
aggregation, operator and number text), then parsed (each part checked and converted), and
only then validated against the metric it applies to. Every error quotes the text at fault.

Grammar::

    key         = ws* metric ws* [ "{" tag ( "," tag )* "}" ] ws*
    metric      = a name matching metric_types.METRIC_NAME_RE, present in the known metrics
    tag         = ws* tag_name ws* ":" ws* tag_value ws*   ; split on the FIRST ":" (k6)
    tag_name    = text without "," or ":", not empty; ' and " at either end are dropped (k6)
    tag_value   = text without ",", not empty; may hold ":", "{", "}" (k6's ``http.url``
                  names look like ``https://host/items/${}``); quotes dropped as for names

    expression  = ws* aggregation ws* operator ws* number ws*
    aggregation = "avg" | "min" | "max" | "med" | "count" | "rate" | "value"
                | "p" ws* "(" ws* number ws* ")"           ; 0 <= number <= 100
    operator    = "<" | "<=" | ">" | ">=" | "==" | "===" | "!="  ; "===" means "=="
    number      = what Go's strconv.ParseFloat accepts, bar NaN:
                  [+-] ( digits ["." [digits]] | "." digits ) [ ("e"|"E") [+-] digits ]
                  | [+-] "0x" hex-mantissa ("p"|"P") [+-] digits     ; hex needs "p"
                  | [+-] ( "Inf" | "Infinity" )                     ; any letter case
                  where "_" may sit between two digits (Go's rule)

Which aggregation fits which metric type (k6's ``supportedAggregationMethods``)::

    counter -> count, rate      gauge -> value      rate -> rate
    trend   -> avg, min, max, med, p(N)

Stricter than k6, on purpose: ``p(N)`` outside [0, 100], a NaN bound, an empty tag value,
and a tag named twice in one key are errors here (k6 accepts them and then judges nonsense);
an unknown key inside a threshold object (``abortonfail``) is an error, not silently ignored.
More lenient than k6: whitespace inside ``p( 95 )`` and around the metric name is allowed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from veza_ray.core import trend_stats
from veza_ray.core.durations import parse_go_float, parse_k6_duration
from veza_ray.core.metric_types import METRIC_NAME_RE, MetricDef, MetricType, Tags, make_tags

__all__ = [
    "Condition",
    "Selector",
    "Threshold",
    "ThresholdError",
    "Verdict",
    "crossed_text",
    "judge",
    "parse_condition",
    "parse_selector",
    "parse_thresholds",
    "should_abort",
]


class ThresholdError(ValueError):
    """One or more threshold problems, all found in one pass so a user fixes them at once."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__("\n".join(self.errors))


# --------------------------------------------------------------------------- vocabulary

_OPERATORS = ("<", "<=", ">", ">=", "==", "===", "!=")
_OPERATOR_CHARS = "<>=!"
_SIMPLE_AGGREGATIONS = ("avg", "min", "max", "med", "count", "rate", "value")

# k6's table of aggregations per metric type; "p" stands for any p(N).
_FITS: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "rate"),
    MetricType.GAUGE: ("value",),
    MetricType.RATE: ("rate",),
    MetricType.TREND: (*trend_stats.THRESHOLD, "p"),
}

_THRESHOLD_OBJECT_KEYS = ("threshold", "abortOnFail", "delayAbortEval")

# Go's strconv.ParseFloat syntax. "_" only between digits (or right after a hex prefix).
_PERCENTILE_RE = re.compile(r"p\s*\(\s*(?P<n>.*?)\s*\)", re.DOTALL)


def _q(text: str) -> str:
    """Quote user text for an error message, escaping quotes and control characters."""
    return json.dumps(text, ensure_ascii=False)


def _hint(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f"; did you mean {_q(close[0])}?" if close else ""


def _go_g(x: float) -> str:
    """Format like Go's ``%g`` for the values a percentile can take, as k6's ``p(%g)`` key."""
    if x == 0:
        return "0"  # also turns -0.0 into "0"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    return repr(x)


# --------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Selector:
    """Which series a threshold reads: a metric, optionally narrowed by tags (a sub-metric)."""

    metric: str
    tags: Tags
    source: str

    def matches(self, series_tags: Tags) -> bool:
        """True when every selector tag is on the series with the same value (subset test)."""
        if not self.tags:
            return True
        have = dict(series_tags)
        return all(have.get(name) == value for name, value in self.tags)


def _strip_quotes(text: str) -> str:
    # k6's AddSubmetric trims ' and " around tag names and values (strings.Trim(s, `"'`)).
    return text.strip().strip("\"'")


def _selector_problems(key: str) -> tuple[Selector | None, list[str]]:
    """Parse a threshold key; return the selector or the reasons it is malformed."""
    text = key.strip()
    open_at = text.find("{")
    close_at = text.rfind("}")
    problems: list[str] = []
    tags: dict[str, str] = {}
    if open_at < 0:
        if close_at >= 0:
            return None, ['"}" without an opening "{"']
        name = text
    else:
        name = text[:open_at].strip()
        if close_at < open_at:
            return None, ['unclosed "{" (expected metric{tag:value})']
        if close_at != len(text) - 1:
            trailing = text[close_at + 1 :]
            return None, [f'unexpected text {_q(trailing)} after the closing "}}"']
        inner = text[open_at + 1 : close_at]
        if not inner.strip():
            problems.append('empty tag list "{}"')
        else:
            for entry in inner.split(","):
                if not entry.strip():
                    problems.append("empty tag entry (a stray comma?)")
                    continue
                tag_name, colon, value = entry.partition(":")
                if not colon:
                    problems.append(f"tag {_q(entry.strip())} has no value (expected tag:value)")
                    continue
                tag_name, value = _strip_quotes(tag_name), _strip_quotes(value)
                if not tag_name:
                    problems.append(f"tag {_q(entry.strip())} has an empty name")
                elif not value:
                    problems.append(f"tag {_q(tag_name)} has an empty value")
                elif tag_name in tags:
                    problems.append(f"tag {_q(tag_name)} is given twice")
                else:
                    tags[tag_name] = value
    if not name:
        problems.insert(0, "missing metric name")
    elif METRIC_NAME_RE.fullmatch(name) is None:
        problems.insert(
            0,
            f"invalid metric name {_q(name)} (letters, digits and _, "
            "not starting with a digit, 2-129 characters)",
        )
    if problems:
        return None, problems
    return Selector(metric=name, tags=make_tags(tags), source=key), []


def _key_error(key: str, reason: str) -> str:
    return f"invalid threshold key {_q(key)}: {reason}"


def parse_selector(key: str) -> Selector:
    """Parse ``metric`` or ``metric{tag:value,...}``; raises ThresholdError quoting the key."""
    selector, problems = _selector_problems(key)
    if selector is None:
        raise ThresholdError([_key_error(key, p) for p in problems])
    return selector


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """A parsed expression such as ``p(95)<500``; ``aggregation`` is k6's summary key."""

    aggregation: str
    percentile: float | None
    operator: str
    bound: float
    source: str

    def check(self, observed: float) -> bool:
        """Apply the operator as k6 does (plain float comparison; NaN fails all but !=)."""
        b = self.bound
        op = self.operator
        if op == "<":
            return observed < b
        if op == "<=":
            return observed <= b
        if op == ">":
            return observed > b
        if op == ">=":
            return observed >= b
        if op in ("==", "==="):
            return observed == b
        if op == "!=":
            return observed != b
        raise AssertionError(f"unreachable: operator {op!r}")  # parse_condition rules it out


def _scan_condition(expr: str) -> tuple[str, str, str]:
    """Scan step: split into raw (aggregation, operator, number) text, checking only shape."""
    at = next((i for i, ch in enumerate(expr) if ch in _OPERATOR_CHARS), -1)
    if at < 0:
        raise ValueError("no comparison operator (one of <, <=, >, >=, ==, ===, !=)")
    end = at
    while end < len(expr) and expr[end] in _OPERATOR_CHARS:
        end += 1
    operator = expr[at:end]
    if operator not in _OPERATORS:
        raise ValueError(
            f"unknown operator {_q(operator)} (expected one of <, <=, >, >=, ==, ===, !=)"
        )
    lhs, rhs = expr[:at].strip(), expr[end:].strip()
    if not lhs:
        raise ValueError(f"missing aggregation before {_q(operator)}")
    if not rhs:
        raise ValueError(f"missing number after {_q(operator)}")
    return lhs, operator, rhs


def _parse_aggregation(text: str) -> tuple[str, float | None]:
    """Parse step for the left side: a keyword, or p(N) with N in [0, 100]."""
    if text in _SIMPLE_AGGREGATIONS:
        return text, None
    m = _PERCENTILE_RE.fullmatch(text)
    if m is None:
        raise ValueError(
            f"unknown aggregation {_q(text)} (expected avg, min, max, med, p(N), "
            f"count, rate or value){_hint(text.lower(), _SIMPLE_AGGREGATIONS)}"
        )
    number = m["n"]
    try:
        pct = parse_go_float(number)
    except ValueError as exc:
        raise ValueError(f"percentile {_q(number)} in {_q(text)} {exc}") from None
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile {_q(number)} in {_q(text)} is outside [0, 100]")
    pct = abs(pct)  # -0.0 -> 0.0
    return f"p({_go_g(pct)})", pct


def _condition_or_reason(expr: str) -> Condition | str:
    try:
        lhs, operator, rhs = _scan_condition(expr)
        aggregation, percentile = _parse_aggregation(lhs)
        try:
            bound = parse_go_float(rhs)
        except ValueError as exc:
            raise ValueError(f"bound {_q(rhs)} {exc}") from None
    except ValueError as exc:
        return str(exc)
    return Condition(
        aggregation=aggregation,
        percentile=percentile,
        operator="==" if operator == "===" else operator,
        bound=bound,
        source=expr,
    )


def parse_condition(expr: str) -> Condition:
    """Parse ``aggregation operator number``; raises ThresholdError quoting the expression."""
    result = _condition_or_reason(expr)
    if isinstance(result, str):
        raise ThresholdError([f"invalid threshold {_q(expr)}: {result}"])
    return result


def _fit_problem(condition: Condition, metric: MetricDef) -> str | None:
    """Validate step: does the aggregation exist for this metric's type (k6's table)?"""
    allowed = _FITS[metric.type]
    method = "p" if condition.percentile is not None else condition.aggregation
    if method in allowed:
        return None
    listed = ", ".join("p(N)" if a == "p" else a for a in allowed)
    return (
        f"aggregation {_q(condition.aggregation)} does not apply to {_q(metric.name)}, "
        f"a {metric.type.value} metric (it supports: {listed})"
    )


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Threshold:
    """One validated threshold: what to read, what it must satisfy, and whether to abort.

    ``metric_type`` is the selected metric's type; ``judge`` needs it because k6 treats a
    rate metric with no samples differently from the other types.
    """

    selector: Selector
    condition: Condition
    abort_on_fail: bool
    delay_abort_eval: float
    metric_type: MetricType

    @property
    def text(self) -> str:
        """``metric{tags} expression``: how the outcome's reasons and the live line name it."""
        return f"{self.selector.source} {self.condition.source}"

    def labelled(self, quote: str = "'") -> str:
        """``metric{tags}: 'expression'``: how k6's end-of-test summary lists it."""
        return f"{self.selector.source}: {quote}{self.condition.source}{quote}"


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _items_for_key(key: str, value: object, errors: list[str]) -> list[object]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    errors.append(
        f"thresholds for {_q(key)} must be a list of strings or objects, got {_type_name(value)}"
    )
    return []


def _read_item(
    key: str, index: int, item: object, errors: list[str]
) -> tuple[str, bool, float] | None:
    """Read one list item (string or object form) into (expression, abortOnFail, delay)."""
    where = f"threshold #{index + 1} for {_q(key)}"
    if isinstance(item, str):
        return item, False, 0.0
    if not isinstance(item, Mapping):
        errors.append(f"{where} must be a string or an object, got {_type_name(item)}")
        return None
    ok = True
    for extra in item:
        if extra not in _THRESHOLD_OBJECT_KEYS:
            name = str(extra)
            errors.append(
                f"{where} has unknown field {_q(name)} (expected threshold, abortOnFail, "
                f"delayAbortEval){_hint(name, _THRESHOLD_OBJECT_KEYS)}"
            )
            ok = False
    expr = item.get("threshold")
    if not isinstance(expr, str):
        got = "is missing" if "threshold" not in item else f"is {_type_name(expr)}"
        errors.append(f'{where}: "threshold" must be an expression string, but {got}')
        ok = False
    abort = item.get("abortOnFail", False)
    if abort is None:
        abort = False
    if not isinstance(abort, bool):
        errors.append(f'{where}: "abortOnFail" must be true or false, got {_q(repr(abort))}')
        ok = False
    delay = 0.0
    raw_delay = item.get("delayAbortEval")
    if raw_delay is not None:
        try:
            delay = parse_k6_duration(raw_delay)
        except ValueError as exc:
            shown = raw_delay if isinstance(raw_delay, str) else repr(raw_delay)
            errors.append(f'{where}: "delayAbortEval" {_q(shown)} {exc}')
            ok = False
    if not ok or not isinstance(expr, str) or not isinstance(abort, bool):
        return None
    return expr, abort, delay


def parse_thresholds(raw: object, metrics: Mapping[str, MetricDef]) -> list[Threshold]:
    """Parse and validate ``options["thresholds"]`` against the known metrics.

    Every problem is collected and raised together in one ThresholdError. ``None`` means no
    thresholds. The result follows the dict's key order, then each key's list order.
    """
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ThresholdError(
            [f"thresholds must be an object of metric keys to lists, got {_type_name(raw)}"]
        )
    errors: list[str] = []
    result: list[Threshold] = []
    for key, value in raw.items():
        if not isinstance(key, str):
            errors.append(f"threshold key {_q(repr(key))} must be a string")
            continue
        selector, problems = _selector_problems(key)
        errors.extend(_key_error(key, p) for p in problems)
        metric: MetricDef | None = None
        if selector is not None:
            metric = metrics.get(selector.metric)
            if metric is None:
                errors.append(
                    f"unknown metric {_q(selector.metric)} in threshold key {_q(key)}"
                    f"{_hint(selector.metric, sorted(metrics))}"
                )
        for index, item in enumerate(_items_for_key(key, value, errors)):
            read = _read_item(key, index, item, errors)
            if read is None:
                continue
            expr, abort, delay = read
            parsed = _condition_or_reason(expr)
            if isinstance(parsed, str):
                errors.append(f"invalid threshold {_q(expr)} on {_q(key)}: {parsed}")
                continue
            if selector is None or metric is None:
                continue
            misfit = _fit_problem(parsed, metric)
            if misfit is not None:
                errors.append(f"invalid threshold {_q(expr)} on {_q(key)}: {misfit}")
                continue
            result.append(Threshold(selector, parsed, abort, delay, metric.type))
    if errors:
        raise ThresholdError(errors)
    return result


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Verdict:
    """The outcome of one threshold on the merged data; ``observed`` None means no samples."""

    threshold: Threshold
    observed: float | None
    ok: bool

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "✗"

    @property
    def crossed(self) -> str:
        """The reason a failed verdict gives in the outcome (``RunFacts.crossed``)."""
        shown = "no data" if self.observed is None else f"{self.observed:.6g}"
        return crossed_text(self.threshold.text, self.threshold.condition.aggregation, shown)

    def to_wire(self) -> dict[str, Any]:
        """The verdict as the summary's ``veza_ray.verdicts`` carries it (reports read it back
        in reports/model.py, the history in history/store.py)."""
        th = self.threshold
        return {
            "metric_key": th.selector.source,
            "expression": th.condition.source,
            "aggregation": th.condition.aggregation,
            "operator": th.condition.operator,
            "bound": th.condition.bound,
            "observed": self.observed,
            "ok": self.ok,
            "abort_on_fail": th.abort_on_fail,
        }


def crossed_text(text: str, aggregation: str, shown: str) -> str:
    """``metric{tags} expression (measured agg = value)``: one wording for a crossed
    threshold, whether judged now (``Verdict.crossed``) or read from a saved summary."""
    return f"{text} (measured {aggregation} = {shown})"


def judge(threshold: Threshold, observed: float | None) -> Verdict:
    """Judge one threshold; ``observed`` is None when its (sub-)metric got no samples.

    With no samples k6 (v0.38.2 up to 1.x) still judges at the end of the test, on an empty
    sink: a trend's min/max/avg/med/p(N) are 0, a counter's count and rate are 0 and a gauge's
    value is 0, so the condition is checked against 0.0 (``p(95)<500`` passes, ``p(95)>0``
    fails). A rate metric with no samples publishes no "rate" at all and k6 counts a missing
    value as a pass, so every rate threshold passes (k6 issue #4283, still open).
    """
    if observed is not None:
        ok = threshold.condition.check(observed)
    elif threshold.metric_type is MetricType.RATE:
        ok = True
    else:
        ok = threshold.condition.check(0.0)
    return Verdict(threshold=threshold, observed=observed, ok=ok)


class Aggregates(Protocol):
    """What judging needs of a metric store: a merged sink per (metric, tags) selector."""

    def aggregate(self, name: str, tags: Tags = ()) -> Any: ...


def evaluate(
    store: Aggregates, thresholds: Sequence[Threshold], duration_s: float
) -> list[Verdict]:
    """Judge every threshold on merged data: read each selector's aggregation, compare."""
    out = []
    for th in thresholds:
        sink = store.aggregate(th.selector.metric, th.selector.tags)
        observed: float | None = None
        if sink is not None and not sink.empty():
            agg = th.condition.aggregation
            stats = (agg,) if sink.kind is MetricType.TREND else ()
            observed = sink.values(duration_s, stats)[agg]
        out.append(judge(th, observed))
    return out


def should_abort(verdicts: Sequence[Verdict], elapsed: float) -> list[Verdict]:
    """The verdicts that stop the test now: failed, abortOnFail, and past delayAbortEval.

    A verdict without samples never aborts: during the run k6 skips thresholds whose sink is
    still empty and judges them only at the end, when there is nothing left to abort.
    """
    return [
        v
        for v in verdicts
        if not v.ok
        and v.observed is not None
        and v.threshold.abort_on_fail
        and elapsed >= v.threshold.delay_abort_eval
    ]
