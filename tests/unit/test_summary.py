"""Summary dict in k6's handleSummary layout, and its text rendering.

Pure: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, ValueType, make_tags
from veza_ray.core.metrics import MetricStore
from veza_ray.core.summary import (
    EXPECTED_SUBMETRIC,
    build_summary,
    format_data,
    format_number,
    format_time,
    render_text,
    selector_text,
)
from veza_ray.core.thresholds import Verdict, evaluate, parse_thresholds

STATS = ("avg", "min", "med", "max", "p(90)", "p(95)")
DEFS = {
    **BUILTIN_METRICS,
    "upload_ms": MetricDef("upload_ms", MetricType.TREND, ValueType.TIME),
    "queue_depth": MetricDef("queue_depth", MetricType.GAUGE),
}


def _evaluate(store: MetricStore, raw: dict, duration_s: float) -> list[Verdict]:
    """What the driver does: parse, then thresholds.evaluate on the merged store."""
    return evaluate(store, parse_thresholds(raw, store.defs), duration_s)


def _store() -> MetricStore:
    store = MetricStore(DEFS)

    def tags(**kw: str):
        return make_tags(kw)

    browse_ok = tags(scenario="browse", expected_response="true", status="200")
    upload_ok = tags(scenario="upload", expected_response="true", status="201")
    browse_bad = tags(scenario="browse", expected_response="false", status="500")
    for v in (10.0, 20.0, 30.0, 40.0):
        store.sink("http_req_duration", browse_ok).add(v)
    for v in (100.0, 200.0):
        store.sink("http_req_duration", upload_ok).add(v)
    store.sink("http_req_duration", browse_bad).add(1000.0)
    for t in (browse_ok, upload_ok, browse_bad):
        n = len(store.sink("http_req_duration", t).buffer)
        for _ in range(n):
            store.sink("http_reqs", t).add(1)
            store.sink("http_req_failed", t).add(1 if t is browse_bad else 0)
    store.sink("checks", tags(check="status is 200", scenario="browse")).add(1)
    store.sink("checks", tags(check="status is 200", scenario="browse")).add(1)
    store.sink("checks", tags(check="status is 200", scenario="browse")).add(0)
    store.sink("checks", tags(check="body ok", scenario="browse")).add(1)
    store.sink("checks", tags(check="status is 200", scenario="upload")).add(1)
    store.sink("data_received", ()).add(2_500_000)
    store.sink("vus", ()).add(5, stamp=1.0)
    store.sink("vus", ()).add(3, stamp=2.0)
    store.sink("upload_ms", ()).add(250.0)
    return store


THRESHOLDS = {
    "http_req_duration": ["p(95)<2000", "max<500"],
    "http_req_duration{scenario:browse}": ["p(90)<50"],
    "http_req_failed": ["rate<0.5"],
    "checks": ["rate>0.99"],
    "iterations": ["count>=0"],
}


@pytest.fixture
def built() -> tuple[dict, list[Verdict]]:
    store = _store()
    verdicts = _evaluate(store, THRESHOLDS, 10.0)
    summary = build_summary(store, verdicts, STATS, 10.0, extras={"actors": 3})
    return summary, verdicts


def test_top_level_layout(built: tuple[dict, list[Verdict]]) -> None:
    summary, _ = built
    assert set(summary) == {"root_group", "options", "state", "metrics", "veza_ray"}
    assert summary["options"] == {
        "summaryTrendStats": list(STATS),
        "summaryTimeUnit": "",
        "noColor": False,
    }
    assert summary["state"] == {
        "isStdOutTTY": False,
        "isStdErrTTY": False,
        "testRunDurationMs": 10_000.0,
    }
    assert summary["veza_ray"] == {"actors": 3}
    json.dumps(summary)  # plain data, as handleSummary / --summary-export expects


def test_root_group_ids_are_k6_md5s(built: tuple[dict, list[Verdict]]) -> None:
    root = built[0]["root_group"]
    assert root["name"] == ""
    assert root["path"] == ""
    assert root["id"] == hashlib.md5(b"").hexdigest() == "d41d8cd98f00b204e9800998ecf8427e"
    assert root["groups"] == []
    assert root["checks"] == [
        {
            "name": "status is 200",
            "path": "::status is 200",
            "id": hashlib.md5(b"::status is 200").hexdigest(),
            "passes": 3,
            "fails": 1,
        },
        {
            "name": "body ok",
            "path": "::body ok",
            "id": hashlib.md5(b"::body ok").hexdigest(),
            "passes": 1,
            "fails": 0,
        },
    ]


def test_metric_entries_by_type(built: tuple[dict, list[Verdict]]) -> None:
    metrics = built[0]["metrics"]
    dur = metrics["http_req_duration"]
    assert (dur["type"], dur["contains"]) == ("trend", "time")
    assert list(dur["values"]) == list(STATS)
    assert dur["values"]["min"] == 10.0
    assert dur["values"]["max"] == 1000.0
    assert dur["values"]["med"] == pytest.approx(40.0)
    assert dur["values"]["avg"] == pytest.approx(1400.0 / 7)
    reqs = metrics["http_reqs"]
    assert (reqs["type"], reqs["contains"]) == ("counter", "default")
    assert reqs["values"] == {"count": 7.0, "rate": 0.7}
    failed = metrics["http_req_failed"]
    assert failed["type"] == "rate"
    assert failed["values"] == {"rate": pytest.approx(1 / 7), "passes": 1.0, "fails": 6.0}
    checks = metrics["checks"]
    assert checks["values"] == {"rate": 0.8, "passes": 4.0, "fails": 1.0}
    data = metrics["data_received"]
    assert (data["type"], data["contains"]) == ("counter", "data")
    assert data["values"] == {"count": 2_500_000.0, "rate": 250_000.0}
    vus = metrics["vus"]
    assert vus == {
        "type": "gauge",
        "contains": "default",
        "values": {"value": 3, "min": 3, "max": 5},
    }
    assert metrics["upload_ms"]["contains"] == "time"


def test_expected_response_submetric(built: tuple[dict, list[Verdict]]) -> None:
    entry = built[0]["metrics"][EXPECTED_SUBMETRIC]
    assert EXPECTED_SUBMETRIC == "http_req_duration{expected_response:true}"
    assert entry["type"] == "trend"
    assert entry["values"]["max"] == 200.0  # the 500 response is left out
    assert entry["values"]["min"] == 10.0
    assert entry["values"]["avg"] == pytest.approx(400.0 / 6)


def test_thresholds_attach_to_their_selector_entry(built: tuple[dict, list[Verdict]]) -> None:
    metrics = built[0]["metrics"]
    assert metrics["http_req_duration"]["thresholds"] == {
        "p(95)<2000": {"ok": True},
        "max<500": {"ok": False},
    }
    browse = metrics["http_req_duration{scenario:browse}"]
    assert browse["type"] == "trend"
    assert browse["values"]["max"] == 1000.0
    assert browse["values"]["min"] == 10.0
    assert browse["thresholds"] == {"p(90)<50": {"ok": False}}
    assert metrics["http_req_failed"]["thresholds"] == {"rate<0.5": {"ok": True}}
    assert metrics["checks"]["thresholds"] == {"rate>0.99": {"ok": False}}
    # entries without thresholds carry no "thresholds" key, as in k6
    assert "thresholds" not in metrics["http_reqs"]
    assert "thresholds" not in metrics[EXPECTED_SUBMETRIC]


def test_threshold_on_metric_without_data_still_has_an_entry(
    built: tuple[dict, list[Verdict]],
) -> None:
    entry = built[0]["metrics"]["iterations"]
    assert entry["values"] == {"count": 0.0, "rate": 0.0}
    assert entry["thresholds"] == {"count>=0": {"ok": True}}


def test_threshold_on_submetric_without_data() -> None:
    store = _store()
    raw = {"http_req_duration{scenario:checkout}": ["p(95)<500"]}
    verdicts = _evaluate(store, raw, 1.0)
    summary = build_summary(store, verdicts, STATS, 1.0)
    entry = summary["metrics"]["http_req_duration{scenario:checkout}"]
    assert entry["values"] == {k: 0.0 for k in STATS}
    assert entry["thresholds"] == {"p(95)<500": {"ok": True}}


def test_empty_store_summary() -> None:
    summary = build_summary(MetricStore(DEFS), [], STATS, 0.0)
    assert summary["metrics"] == {}
    assert summary["root_group"]["checks"] == []
    assert summary["state"]["testRunDurationMs"] == 0.0
    assert summary["veza_ray"] == {}


def test_tty_flags_pass_through() -> None:
    summary = build_summary(MetricStore(DEFS), [], STATS, 1.0, is_tty=True)
    assert summary["state"]["isStdOutTTY"] is True
    assert summary["state"]["isStdErrTTY"] is True


def test_selector_text() -> None:
    assert selector_text("http_req_duration", ()) == "http_req_duration"
    assert (
        selector_text("http_req_duration", (("method", "GET"), ("scenario", "browse")))
        == "http_req_duration{method:GET,scenario:browse}"
    )


# --------------------------------------------------------------------------- text


def test_render_text_marks_thresholds_and_checks(built: tuple[dict, list[Verdict]]) -> None:
    summary, verdicts = built
    text = render_text(summary, verdicts)
    assert "     ✗ status is 200" in text
    assert "↳  75% — ✓ 3 / ✗ 1" in text
    assert "     ✓ body ok" in text
    assert "THRESHOLDS" in text
    assert "✓ http_req_duration: 'p(95)<2000'" in text
    assert "✗ http_req_duration: 'max<500' max=1.00s" in text
    assert "✗ http_req_duration{scenario:browse}: 'p(90)<50'" in text
    assert "✓ http_req_failed: 'rate<0.5' rate=14.29%" in text
    assert "✗ checks: 'rate>0.99' rate=80.00%" in text
    assert "✓ iterations: 'count>=0' count=no data" in text
    lines = text.splitlines()
    # metric rows: failed selectors marked ✗, passing ones ✓, unjudged ones blank
    row = {ln[5:].split(".")[0]: ln[3] for ln in lines if ln[5:6].isalpha() and "..." in ln}
    assert row["http_req_duration"] == "✗"
    assert row["http_req_failed"] == "✓"
    assert row["iterations"] == "✓"
    assert row["checks"] == "✗"
    assert row["http_reqs"] == " "
    assert row["vus"] == " "
    assert any("{ scenario:browse }" in ln and ln.lstrip().startswith("✗") for ln in lines)
    assert any("{ expected_response:true }" in ln for ln in lines)
    assert any("data_received" in ln and "2.5 MB" in ln and "250.0 kB/s" in ln for ln in lines)
    assert any("http_reqs" in ln and "7  0.70/s" in ln for ln in lines)


def test_render_text_without_checks_or_thresholds() -> None:
    store = MetricStore(DEFS)
    store.sink("http_reqs", ()).add(1)
    text = render_text(build_summary(store, [], STATS, 1.0), [])
    assert "THRESHOLDS" not in text
    assert "✓" not in text
    assert "✗" not in text
    assert "http_reqs" in text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (0.512, "512.00µs"),
        (10.52, "10.52ms"),
        (1200, "1.20s"),
        (123_000, "2m3.0s"),
    ],
)
def test_format_time(ms: float, text: str) -> None:
    assert format_time(ms) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (2_500_000, "2.5 MB"), (3e9, "3.0 GB")],
)
def test_format_data(n: float, text: str) -> None:
    assert format_data(n) == text


def test_format_number() -> None:
    assert format_number(7.0) == "7"
    assert format_number(0.125) == "0.125"
    assert format_number(1 / 3) == "0.333333"


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_render_text_survives_non_finite_values(value: float) -> None:
    store = MetricStore(DEFS)
    store.sink("queue_depth", ()).add(value, stamp=1.0)
    text = render_text(build_summary(store, [], STATS, 1.0), [])
    assert "queue_depth" in text
