"""Unit tests for veza_ray.core.thresholds: grammar, validation, judging. Pure: no I/O, no sleeping."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veza_ray.core.durations import parse_k6_duration as _parse_delay
from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, ValueType
from veza_ray.core.thresholds import (
    Condition,
    Selector,
    Threshold,
    ThresholdError,
    Verdict,
    judge,
    parse_condition,
    parse_selector,
    parse_thresholds,
    should_abort,
)

METRICS: dict[str, MetricDef] = {
    **BUILTIN_METRICS,
    "upload_errors": MetricDef("upload_errors", MetricType.RATE),
    "bytes_streamed": MetricDef("bytes_streamed", MetricType.COUNTER, ValueType.DATA),
    "queue_depth": MetricDef("queue_depth", MetricType.GAUGE),
    "checkout_time": MetricDef("checkout_time", MetricType.TREND, ValueType.TIME),
}


def q(text: str) -> str:
    """Quote as the error messages do (JSON string syntax)."""
    return json.dumps(text, ensure_ascii=False)


def errors_of(exc: pytest.ExceptionInfo[ThresholdError]) -> list[str]:
    assert str(exc.value) == "\n".join(exc.value.errors)
    return exc.value.errors


# --------------------------------------------------------------------------- expressions

VALID_EXPRESSIONS = [
    # (expression, aggregation, percentile, operator, bound)
    ("p(95)<500", "p(95)", 95.0, "<", 500.0),
    ("p(99.9)<=1500", "p(99.9)", 99.9, "<=", 1500.0),
    ("p(0)>=0", "p(0)", 0.0, ">=", 0.0),
    ("p(100)>1", "p(100)", 100.0, ">", 1.0),
    ("p(95.0)<1", "p(95)", 95.0, "<", 1.0),
    ("p(95.)<1", "p(95)", 95.0, "<", 1.0),
    ("p(1e1)<1", "p(10)", 10.0, "<", 1.0),
    ("p(0.00001)<1", "p(1e-05)", 0.00001, "<", 1.0),
    ("p(-0)<1", "p(0)", 0.0, "<", 1.0),
    ("p( 90 )<1", "p(90)", 90.0, "<", 1.0),
    ("avg<200", "avg", None, "<", 200.0),
    ("min>0", "min", None, ">", 0.0),
    ("max<=3e3", "max", None, "<=", 3000.0),
    ("med!=4", "med", None, "!=", 4.0),
    ("count>=10", "count", None, ">=", 10.0),
    ("rate<0.005", "rate", None, "<", 0.005),
    ("value==7", "value", None, "==", 7.0),
    ("value===7", "value", None, "==", 7.0),
    ("  avg  <  200  ", "avg", None, "<", 200.0),
    ("\tavg\t<\t200\n", "avg", None, "<", 200.0),
    ("avg<-5", "avg", None, "<", -5.0),
    ("avg<=-5", "avg", None, "<=", -5.0),
    ("avg<+5", "avg", None, "<", 5.0),
    ("avg<.5", "avg", None, "<", 0.5),
    ("avg<1.", "avg", None, "<", 1.0),
    ("avg<00012", "avg", None, "<", 12.0),
    ("avg<1E+3", "avg", None, "<", 1000.0),
    ("avg<1e-3", "avg", None, "<", 0.001),
    ("avg<1_000", "avg", None, "<", 1000.0),
    ("avg<1_0.5_0", "avg", None, "<", 10.5),
    ("avg<1e1_0", "avg", None, "<", 1e10),
    ("avg<0x1p3", "avg", None, "<", 8.0),
    ("avg<0X1P-2", "avg", None, "<", 0.25),
    ("avg<0x.8p1", "avg", None, "<", 1.0),
    ("avg<0x_1p0", "avg", None, "<", 1.0),
    ("avg<Inf", "avg", None, "<", math.inf),
    ("avg<+Infinity", "avg", None, "<", math.inf),
    ("avg>-inf", "avg", None, ">", -math.inf),
    ("avg<1e-400", "avg", None, "<", 0.0),
]


@pytest.mark.parametrize(
    ("expr", "aggregation", "percentile", "operator", "bound"), VALID_EXPRESSIONS
)
def test_valid_expressions(
    expr: str, aggregation: str, percentile: float | None, operator: str, bound: float
) -> None:
    c = parse_condition(expr)
    assert c == Condition(aggregation, percentile, operator, bound, expr)


INVALID_EXPRESSIONS = [
    # (expression, text the message must also quote or contain)
    ("p(95)<<500", '"<<"'),
    ("avg=>1", '"=>"'),
    ("avg=1", '"="'),
    ("avg!1", '"!"'),
    ("avg", "no comparison operator"),
    ("", "no comparison operator"),
    ("<5", "missing aggregation"),
    ("avg<", "missing number"),
    ("avg<   ", "missing number"),
    ("AVG<1", '"AVG"'),
    ("average<1", '"average"'),
    ("p95<1", '"p95"'),
    ("p(95<1", '"p(95"'),
    ("p()<1", '""'),
    ("p(x)<1", '"x"'),
    ("p(101)<1", "outside [0, 100]"),
    ("p(-1)<1", "outside [0, 100]"),
    ("p(100.0001)<1", "outside [0, 100]"),
    ("p(NaN)<1", '"NaN"'),
    ("avg<abc", '"abc"'),
    ("avg<1 2", '"1 2"'),
    ("avg<1e", '"1e"'),
    ("avg<0x10", '"0x10"'),
    ("avg<_1", '"_1"'),
    ("avg<1__0", '"1__0"'),
    ("avg<1_", '"1_"'),
    ("avg<1_.5", '"1_.5"'),
    ("avg<1e400", "out of the float64 range"),
    ("avg<0x1p99999", "out of the float64 range"),
    ("avg<NaN", '"NaN"'),
    ("avg<nan", '"nan"'),
    ("avg<500ms", '"500ms"'),
    ("avg<<=1", '"<<="'),
    ("avg<1<2", '"1<2"'),
]


@pytest.mark.parametrize(("expr", "fragment"), INVALID_EXPRESSIONS)
def test_invalid_expressions_quote_the_text(expr: str, fragment: str) -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_condition(expr)
    (message,) = errors_of(exc)
    assert message.startswith(f"invalid threshold {q(expr)}: ")
    assert fragment in message


def test_threshold_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        parse_condition("avg<<1")


def test_unknown_aggregation_hints_lowercase() -> None:
    with pytest.raises(ThresholdError, match='did you mean "avg"'):
        parse_condition("AVG<1")


def test_triple_equals_is_double_equals() -> None:
    strict, loose = parse_condition("rate===1"), parse_condition("rate==1")
    assert strict.operator == loose.operator == "=="
    assert strict.source == "rate===1"
    assert strict.check(1.0) and not strict.check(0.999)


# --------------------------------------------------------------------------- check()

BELOW = math.nextafter(500.0, -math.inf)
ABOVE = math.nextafter(500.0, math.inf)


@pytest.mark.parametrize(
    ("operator", "below", "at", "above"),
    [
        ("<", True, False, False),
        ("<=", True, True, False),
        (">", False, False, True),
        (">=", False, True, True),
        ("==", False, True, False),
        ("===", False, True, False),
        ("!=", True, False, True),
    ],
)
def test_check_at_and_around_the_bound(operator: str, below: bool, at: bool, above: bool) -> None:
    c = parse_condition(f"avg{operator}500")
    assert (c.check(BELOW), c.check(500.0), c.check(ABOVE)) == (below, at, above)
    assert (c.check(499.0), c.check(501.0)) == (below, above)


@pytest.mark.parametrize("operator", ["<", "<=", ">", ">=", "=="])
def test_check_nan_fails_like_go(operator: str) -> None:
    assert not parse_condition(f"avg{operator}1").check(math.nan)


def test_check_nan_not_equal_passes_like_go() -> None:
    assert parse_condition("avg!=1").check(math.nan)


def test_check_with_infinite_bound() -> None:
    assert parse_condition("max<Inf").check(1e308)
    assert not parse_condition("max<Inf").check(math.inf)


# --------------------------------------------------------------------------- selectors

VALID_SELECTORS = [
    ("http_req_duration", "http_req_duration", ()),
    ("http_req_duration{scenario:browse}", "http_req_duration", (("scenario", "browse"),)),
    (
        "http_req_duration{status:200,scenario:browse}",
        "http_req_duration",
        (("scenario", "browse"), ("status", "200")),
    ),
    ("http_req_duration{ scenario : browse }", "http_req_duration", (("scenario", "browse"),)),
    ("  http_req_duration  ", "http_req_duration", ()),
    ("http_req_duration{a:b} ", "http_req_duration", (("a", "b"),)),
    ("http_req_duration {scenario:browse}", "http_req_duration", (("scenario", "browse"),)),
    ("http_req_duration{url:http://x:8080/a}", "http_req_duration", (("url", "http://x:8080/a"),)),
    ('http_req_duration{name:"PublicCrocs"}', "http_req_duration", (("name", "PublicCrocs"),)),
    ("http_req_duration{'name':'x'}", "http_req_duration", (("name", "x"),)),
    (
        "http_req_duration{name:https://h/items/${}}",
        "http_req_duration",
        (("name", "https://h/items/${}"),),
    ),
    ("my_metric_2{a:b}", "my_metric_2", (("a", "b"),)),
]


@pytest.mark.parametrize(("key", "metric", "tags"), VALID_SELECTORS)
def test_valid_selectors(key: str, metric: str, tags: tuple[tuple[str, str], ...]) -> None:
    assert parse_selector(key) == Selector(metric, tags, key)


INVALID_SELECTORS = [
    ("http_req_duration{scenario:browse", 'unclosed "{"'),
    ("http_req_duration{a:b}x", '"x"'),
    ("http_req_duration}", '"}" without'),
    ("http_req_duration{}", "empty tag list"),
    ("http_req_duration{ }", "empty tag list"),
    ("http_req_duration{scenario}", '"scenario" has no value'),
    ("http_req_duration{:browse}", "empty name"),
    ("http_req_duration{scenario:}", '"scenario" has an empty value'),
    ("http_req_duration{scenario: }", '"scenario" has an empty value'),
    ('http_req_duration{scenario:""}', '"scenario" has an empty value'),
    ("http_req_duration{a:b,}", "empty tag entry"),
    ("http_req_duration{a:b,,c:d}", "empty tag entry"),
    ("http_req_duration{a:1,a:2}", '"a" is given twice'),
    ("{a:b}", "missing metric name"),
    ("", "missing metric name"),
    ("9lives", '"9lives"'),
    ("http-req", '"http-req"'),
    ("x" * 130, "2-129 characters"),
    ("x", "2-129 characters"),  # k6 metrics/registry.go: one leading character and 1-128 more
]


@pytest.mark.parametrize(("key", "fragment"), INVALID_SELECTORS)
def test_invalid_selectors_quote_the_key(key: str, fragment: str) -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_selector(key)
    messages = errors_of(exc)
    assert all(m.startswith(f"invalid threshold key {q(key)}: ") for m in messages)
    assert any(fragment in m for m in messages)


def test_selector_reports_every_bad_tag() -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_selector("mm{a,:b,c:}")
    assert len(errors_of(exc)) == 3


def test_selector_matches_is_a_subset_test() -> None:
    sel = parse_selector("http_req_duration{scenario:browse,status:200}")
    assert sel.matches((("method", "GET"), ("scenario", "browse"), ("status", "200")))
    assert sel.matches((("scenario", "browse"), ("status", "200")))
    assert not sel.matches((("scenario", "browse"),))
    assert not sel.matches((("scenario", "browse"), ("status", "500")))
    assert not sel.matches(())
    assert parse_selector("http_req_duration").matches(())
    assert parse_selector("http_req_duration").matches((("a", "b"),))


# --------------------------------------------------------------------------- parse_thresholds


def test_parse_thresholds_seed_options() -> None:
    raw = {
        "http_req_duration": ["p(95)<500", "p(99)<1500"],
        "http_req_failed": ["rate<0.005"],
        "upload_errors": ["rate<0.01"],
        "http_req_duration{scenario:browse}": ["p(95)<400"],
    }
    got = parse_thresholds(raw, METRICS)
    assert [(t.selector.source, t.condition.source) for t in got] == [
        ("http_req_duration", "p(95)<500"),
        ("http_req_duration", "p(99)<1500"),
        ("http_req_failed", "rate<0.005"),
        ("upload_errors", "rate<0.01"),
        ("http_req_duration{scenario:browse}", "p(95)<400"),
    ]
    assert got[0] == Threshold(
        Selector("http_req_duration", (), "http_req_duration"),
        Condition("p(95)", 95.0, "<", 500.0, "p(95)<500"),
        abort_on_fail=False,
        delay_abort_eval=0.0,
        metric_type=MetricType.TREND,
    )
    assert got[3].metric_type is MetricType.RATE
    assert got[4].selector.tags == (("scenario", "browse"),)


def test_parse_thresholds_object_form() -> None:
    raw = {
        "http_req_duration": [
            {"threshold": "p(99)<1200", "abortOnFail": True, "delayAbortEval": "1m30s"},
            {"threshold": "avg<300", "abortOnFail": False},
            {"threshold": "max<9000"},
            {"threshold": "min>=0", "abortOnFail": None, "delayAbortEval": None},
            "med<250",
        ],
    }
    got = parse_thresholds(raw, METRICS)
    assert [(t.condition.source, t.abort_on_fail, t.delay_abort_eval) for t in got] == [
        ("p(99)<1200", True, 90.0),
        ("avg<300", False, 0.0),
        ("max<9000", False, 0.0),
        ("min>=0", False, 0.0),
        ("med<250", False, 0.0),
    ]


def test_parse_thresholds_accepts_a_single_string_and_none() -> None:
    (t,) = parse_thresholds({"checks": "rate>0.99"}, METRICS)
    assert t.condition == Condition("rate", None, ">", 0.99, "rate>0.99")
    assert parse_thresholds(None, METRICS) == []
    assert parse_thresholds({}, METRICS) == []
    assert parse_thresholds({"checks": []}, METRICS) == []


def test_parse_thresholds_normalises_triple_equals() -> None:
    (t,) = parse_thresholds({"vus": ["value===10"]}, METRICS)
    assert t.condition.operator == "=="
    assert t.condition.source == "value===10"


@pytest.mark.parametrize(
    ("metric", "aggregation", "fits"),
    [
        (metric, agg, agg in fit)
        for metric, fit in [
            ("bytes_streamed", {"count", "rate"}),
            ("queue_depth", {"value"}),
            ("upload_errors", {"rate"}),
            ("checkout_time", {"avg", "min", "max", "med", "p(95)", "p(99.9)"}),
        ]
        for agg in ["avg", "min", "max", "med", "p(95)", "p(99.9)", "count", "rate", "value"]
    ],
)
def test_aggregation_fits_metric_type(metric: str, aggregation: str, fits: bool) -> None:
    raw = {metric: [f"{aggregation}<1"]}
    if fits:
        (t,) = parse_thresholds(raw, METRICS)
        assert t.condition.aggregation == aggregation
        assert t.metric_type is METRICS[metric].type
        return
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds(raw, METRICS)
    (message,) = errors_of(exc)
    assert message.startswith(f"invalid threshold {q(aggregation + '<1')} on {q(metric)}: ")
    assert q(aggregation) in message
    assert f"a {METRICS[metric].type.value} metric" in message


def test_unknown_metric_is_rejected_with_a_hint() -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds({"http_req_duraton{scenario:browse}": ["p(95)<500"]}, METRICS)
    assert errors_of(exc) == [
        'unknown metric "http_req_duraton" in threshold key '
        '"http_req_duraton{scenario:browse}"; did you mean "http_req_duration"?'
    ]


def test_unknown_metric_without_a_close_name_has_no_hint() -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds({"zzzz": ["count>1"]}, METRICS)
    assert errors_of(exc) == ['unknown metric "zzzz" in threshold key "zzzz"']


def test_custom_metrics_come_from_the_mapping() -> None:
    with pytest.raises(ThresholdError, match="unknown metric"):
        parse_thresholds({"upload_errors": ["rate<0.01"]}, BUILTIN_METRICS)
    assert parse_thresholds({"upload_errors": ["rate<0.01"]}, METRICS)


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "http_req_duraton": ["p(95)<500"],
        "http_req_duration": ["value<1", "p(95)<<5", "avg<1"],
        "checks": 5,
        "vus": [{"threshold": "value<1", "delayAbortEval": "soon"}, 7],
        "iterations{scenario:}": ["count>1", "count>"],
        "queue_depth": [{"treshold": "value<1", "abortOnFail": "yes"}],
    }
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds(raw, METRICS)
    messages = errors_of(exc)
    expected_fragments = [
        'unknown metric "http_req_duraton"',
        'invalid threshold "value<1" on "http_req_duration"',
        'invalid threshold "p(95)<<5" on "http_req_duration"',
        'thresholds for "checks" must be a list',
        'threshold #1 for "vus": "delayAbortEval" "soon"',
        'threshold #2 for "vus" must be a string or an object, got int',
        'invalid threshold key "iterations{scenario:}"',
        'invalid threshold "count>" on "iterations{scenario:}"',
        'threshold #1 for "queue_depth" has unknown field "treshold"',
        'threshold #1 for "queue_depth": "threshold" must be an expression string, but is missing',
        'threshold #1 for "queue_depth": "abortOnFail" must be true or false',
    ]
    assert len(messages) == len(expected_fragments)
    for message, fragment in zip(messages, expected_fragments, strict=True):
        assert fragment in message
    assert 'did you mean "threshold"?' in messages[8]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (["http_req_duration"], "got list"),
        ("p(95)<500", "got str"),
        (5, "got int"),
    ],
)
def test_thresholds_must_be_an_object(raw: object, fragment: str) -> None:
    with pytest.raises(ThresholdError, match=fragment):
        parse_thresholds(raw, METRICS)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (5, "got int"),
        (None, "got null"),
        ({"threshold": "avg<1"}, "got dict"),
        (True, "got bool"),
    ],
)
def test_values_must_be_lists_or_strings(value: object, fragment: str) -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds({"http_req_duration": value}, METRICS)
    (message,) = errors_of(exc)
    assert message.startswith('thresholds for "http_req_duration" must be a list')
    assert fragment in message


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"threshold": 5}, '"threshold" must be an expression string, but is int'),
        ({"abortOnFail": True}, '"threshold" must be an expression string, but is missing'),
        ({"threshold": "avg<1", "abortOnFail": "true"}, '"abortOnFail" must be true or false'),
        ({"threshold": "avg<1", "abortOnFail": 1}, '"abortOnFail" must be true or false'),
        ({"threshold": "avg<1", "delayAbortEval": True}, '"delayAbortEval" "True"'),
        ({"threshold": "avg<1", "delayAbortEval": "-5s"}, "is negative"),
        ({"threshold": "avg<1", "delayAbortEval": "10 s"}, '"10 s" is not a duration'),
        ({"threshold": "avg<1", "abortOnFail": True, "delay": "1s"}, 'unknown field "delay"'),
        (3.5, "must be a string or an object, got float"),
        (["avg<1"], "must be a string or an object, got list"),
    ],
)
def test_object_form_is_checked_strictly(item: object, fragment: str) -> None:
    with pytest.raises(ThresholdError) as exc:
        parse_thresholds({"http_req_duration": [item]}, METRICS)
    messages = errors_of(exc)
    assert all(m.startswith('threshold #1 for "http_req_duration"') for m in messages)
    assert any(fragment in m for m in messages)


# --------------------------------------------------------------------------- delays


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("1h1h", 7200.0),
        ("250us", 0.00025),
        ("250µs", 0.00025),
        ("100ns", 1e-7),
        ("0", 0.0),
        ("+2s", 2.0),
        ("  10s  ", 10.0),
        ("1500", 1.5),  # k6: a bare number is milliseconds
        ("1d", 86400.0),
        ("1d12h", 129600.0),
        (2500, 2.5),  # k6: a JSON number is milliseconds
        (0.5, 0.0005),
    ],
)
def test_parse_delay(raw: str | float, seconds: float) -> None:
    assert _parse_delay(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "raw", ["", "s", "10x", "10 s", "1.5d", "1d-1h", "-1s", "-1d", "Inf", "NaN", True, None]
)
def test_parse_delay_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        _parse_delay(raw)


# --------------------------------------------------------------------------- judging


def threshold(
    key: str,
    expr: str,
    abort: bool = False,
    delay: float = 0.0,
    metrics: dict[str, MetricDef] = METRICS,
) -> Threshold:
    sel = parse_selector(key)
    return Threshold(sel, parse_condition(expr), abort, delay, metrics[sel.metric].type)


def test_judge_with_data() -> None:
    t = threshold("http_req_duration", "p(95)<500")
    assert judge(t, 499.0) == Verdict(t, 499.0, True)
    assert judge(t, 500.0) == Verdict(t, 500.0, False)


@pytest.mark.parametrize(
    ("key", "expr", "ok"),
    [
        # empty trend: min/max/avg/med/p(N) are 0 (k6 TrendSink on an empty sink)
        ("http_req_duration{scenario:nope}", "p(95)<500", True),
        ("http_req_duration{scenario:nope}", "p(95)>0", False),
        ("http_req_duration{scenario:nope}", "avg==0", True),
        ("checkout_time", "max>=1", False),
        # empty counter: count and rate are 0
        ("bytes_streamed", "count==0", True),
        ("bytes_streamed", "count>0", False),
        ("bytes_streamed", "rate>0", False),
        # empty gauge: value is 0
        ("queue_depth", "value==0", True),
        ("queue_depth", "value>0", False),
        # empty rate: k6 publishes no rate and counts that as a pass, whatever the condition
        ("checks", "rate>0.9", True),
        ("checks", "rate<0.1", True),
        ("http_req_failed{scenario:nope}", "rate>0.99", True),
        ("upload_errors", "rate!=0", True),
    ],
)
def test_judge_without_samples_follows_k6(key: str, expr: str, ok: bool) -> None:
    t = threshold(key, expr)
    assert judge(t, None) == Verdict(t, None, ok)


def test_should_abort() -> None:
    fail_now = threshold("http_req_duration", "p(95)<500", abort=True)
    fail_later = threshold("http_req_duration", "p(99)<900", abort=True, delay=10.0)
    no_abort = threshold("http_req_duration", "avg<100")
    passing = threshold("http_req_failed", "rate<0.01", abort=True)
    empty = threshold("http_req_duration{scenario:nope}", "p(95)>0", abort=True)
    verdicts = [
        judge(fail_now, 600.0),
        judge(fail_later, 1000.0),
        judge(no_abort, 200.0),
        judge(passing, 0.0),
        judge(empty, None),
    ]
    assert [v.ok for v in verdicts] == [False, False, False, True, False]
    assert should_abort(verdicts, 0.0) == [verdicts[0]]
    assert should_abort(verdicts, 9.999) == [verdicts[0]]
    assert should_abort(verdicts, 10.0) == [verdicts[0], verdicts[1]]
    assert should_abort(verdicts, 1e6) == [verdicts[0], verdicts[1]]
    assert should_abort([], 5.0) == []


# --------------------------------------------------------------------------- round trip

_WS = st.text(alphabet=" \t", max_size=3)
_AGGREGATIONS = st.sampled_from(["avg", "min", "max", "med", "count", "rate", "value"])
_OPERATORS = st.sampled_from(["<", "<=", ">", ">=", "==", "===", "!="])
_FINITE = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def _number_text(draw: st.DrawFn, value: float) -> str:
    style = draw(st.sampled_from(["repr", "exp", "hex", "int"]))
    if style == "exp":
        return f"{value:.17e}"
    if style == "hex":
        return value.hex()
    if style == "int" and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@given(data=st.data(), op=_OPERATORS, bound=_FINITE)
def test_round_trip(data: st.DataObject, op: str, bound: float) -> None:
    use_percentile = data.draw(st.booleans())
    if use_percentile:
        pct = data.draw(st.floats(min_value=0.0, max_value=100.0))
        agg_text = f"p({data.draw(_WS)}{data.draw(_number_text(pct))}{data.draw(_WS)})"
    else:
        agg_text = data.draw(_AGGREGATIONS)
    bound_text = data.draw(_number_text(bound))
    ws = [data.draw(_WS) for _ in range(4)]
    expr = f"{ws[0]}{agg_text}{ws[1]}{op}{ws[2]}{bound_text}{ws[3]}"

    c = parse_condition(expr)

    assert c.operator == ("==" if op == "===" else op)
    assert c.bound == bound
    assert c.source == expr
    if use_percentile:
        assert c.percentile == abs(pct)
        assert c.aggregation.startswith("p(") and c.aggregation.endswith(")")
        assert float(c.aggregation[2:-1]) == abs(pct)
        # the canonical key is a fixed point: parsing it again gives the same key
        assert parse_condition(f"{c.aggregation}<1").aggregation == c.aggregation
    else:
        assert c.percentile is None
        assert c.aggregation == agg_text
    # formatting the parsed condition back gives an equal condition
    again = f"{c.aggregation}{c.operator}{c.bound!r}"
    assert parse_condition(again) == Condition(
        c.aggregation, c.percentile, c.operator, c.bound, again
    )


@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{1,20}", fullmatch=True),
    tags=st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9/.:${}-]{1,12}", fullmatch=True),
        max_size=4,
    ),
    ws=_WS,
)
def test_selector_round_trip(name: str, tags: dict[str, str], ws: str) -> None:
    inner = ",".join(f"{ws}{k}{ws}:{ws}{v}{ws}" for k, v in tags.items())
    key = f"{ws}{name}{ws}" + (f"{{{inner}}}" if tags else "")
    sel = parse_selector(key)
    assert sel == Selector(name, tuple(sorted(tags.items())), key)
    assert sel.matches(tuple(sorted({**tags, "extra_tag": "x"}.items())))


# --------------------------------------------------------------------------- one wording


def test_a_verdict_has_one_wire_form_and_one_wording() -> None:
    """The summary's ``veza_ray.verdicts`` entry, the outcome's reason, the summary's and
    the live view's labels all come from the verdict itself (one place to change)."""
    from veza_ray.core.thresholds import crossed_text

    spec = {"http_req_duration{scenario:browse}": [{"threshold": "p(95)<500", "abortOnFail": True}]}
    (th,) = parse_thresholds(spec, METRICS)
    failed, empty = Verdict(th, 512.3456789, False), Verdict(th, None, True)
    assert failed.to_wire() == {
        "metric_key": "http_req_duration{scenario:browse}",
        "expression": "p(95)<500",
        "aggregation": "p(95)",
        "operator": "<",
        "bound": 500.0,
        "observed": 512.3456789,
        "ok": False,
        "abort_on_fail": True,
    }
    assert empty.to_wire()["observed"] is None and empty.to_wire()["ok"] is True
    assert failed.crossed == (
        "http_req_duration{scenario:browse} p(95)<500 (measured p(95) = 512.346)"
    )
    assert empty.crossed.endswith("(measured p(95) = no data)")
    assert failed.crossed == crossed_text(th.text, "p(95)", "512.346")
    assert th.text == "http_req_duration{scenario:browse} p(95)<500"
    assert th.labelled() == "http_req_duration{scenario:browse}: 'p(95)<500'"
    assert th.labelled(quote="") == "http_req_duration{scenario:browse}: p(95)<500"
    assert (failed.mark, empty.mark) == ("✗", "✓")
