"""The Prometheus remote-write output: k6's naming, labels, cardinality cap, encoding,
and the sender against real local HTTP endpoints (answering, refusing, failing, slow).

The naming tables are k6's own: grafana/k6 internal/output/prometheusrw/remotewrite
(remotewrite_test.go TestOutputSetTrendStatsResolver for the stat suffixes, MapPrompb in
remotewrite.go for the per-kind suffixes, trend.go adaptUnit for ms -> s).
"""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prom import Endpoint

from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, make_tags
from veza_ray.core.metrics import MetricStore
from veza_ray.outputs.prometheus import (
    STALE_NAN,
    PrometheusConfig,
    PrometheusConfigError,
    PrometheusOutput,
    Sender,
    SeriesMapper,
    decode,
    default_test_id,
    encode,
    parse_config,
    prom_names,
    series_labels,
    stat_suffix,
    verdict_points,
)

DEFS = {
    **BUILTIN_METRICS,
    "checkout_p95_ms": MetricDef("checkout_p95_ms", MetricType.TREND),
    "upload_bytes": MetricDef("upload_bytes", MetricType.COUNTER),
}
LOOPBACK: frozenset[str] = frozenset()


# k6 remotewrite_test.go TestOutputSetTrendStatsResolver: stats -> resolver keys.
@pytest.mark.parametrize(
    ("stat", "suffix"),
    [
        ("sum", "sum"),
        ("avg", "avg"),
        ("p(27)", "p27"),
        ("p(0.999)", "p0999"),
        ("p(1)", "p1"),
        ("p(0)", "p0"),
        ("count", "count"),
        ("max", "max"),
        ("min", "min"),
        ("med", "med"),
        ("p(90)", "p90"),
        ("p(99)", "p99"),
        ("p(99.9)", "p999"),
    ],
)
def test_trend_stat_suffix_is_k6s(stat: str, suffix: str) -> None:
    assert stat_suffix(stat) == suffix


def test_names_per_kind_are_k6s() -> None:
    assert prom_names("http_reqs", MetricType.COUNTER, ()) == ["k6_http_reqs_total"]
    assert prom_names("http_req_failed", MetricType.RATE, ()) == ["k6_http_req_failed_rate"]
    assert prom_names("vus", MetricType.GAUGE, ()) == ["k6_vus"]
    assert prom_names("http_req_duration", MetricType.TREND, ("p(99)",)) == [
        "k6_http_req_duration_p99"
    ]
    assert prom_names("iteration_duration", MetricType.TREND, ("p(95)", "avg", "count")) == [
        "k6_iteration_duration_p95",
        "k6_iteration_duration_avg",
        "k6_iteration_duration_count",
    ]


def test_default_trend_stats_is_p99() -> None:
    cfg = parse_config("http://127.0.0.1:9090/api/v1/write", {}, LOOPBACK)
    assert cfg.trend_stats == ("p(99)",)
    assert cfg.max_series == 2000


def test_labels_follow_k6_and_keep_cardinality_bounded() -> None:
    tags = make_tags(
        {"scenario": "browse", "name": "browse_detail", "url": "http://x/tracks/123", "group": ""}
    )
    assert series_labels(tags, "run1") == (
        ("name", "browse_detail"),
        ("scenario", "browse"),
        ("testid", "run1"),
    )
    # No name: the url stays (it is the only request identity there is).
    assert series_labels(make_tags({"url": "http://x/a"}), "run1") == (
        ("testid", "run1"),
        ("url", "http://x/a"),
    )
    # A testid tag wins over the run's; static labels never override tags.
    assert series_labels(make_tags({"testid": "mine"}), "run1", (("env", "ci"),)) == (
        ("env", "ci"),
        ("testid", "mine"),
    )
    assert series_labels(make_tags({"scenario": "s"}), "r", (("scenario", "x"),)) == (
        ("scenario", "s"),
        ("testid", "r"),
    )
    # Label names must match [a-zA-Z_][a-zA-Z0-9_]*; reserved __ keys are dropped.
    assert series_labels(make_tags({"my-tag": "v", "1st": "w", "__x": "y"}), "r") == (
        ("_1st", "w"),
        ("my_tag", "v"),
        ("testid", "r"),
    )


def _store() -> MetricStore:
    store = MetricStore(DEFS)
    ok = make_tags({"scenario": "browse", "name": "list", "status": "200", "method": "GET"})
    bad = make_tags({"scenario": "browse", "name": "list", "status": "503", "method": "GET"})
    store.sink("http_reqs", ok).add(6)  # type: ignore[call-arg]
    store.sink("http_reqs", bad).add(2)  # type: ignore[call-arg]
    for v in (0, 0, 0, 1):
        store.sink("http_req_failed", ok).add(v)  # type: ignore[call-arg]
    for v in (100.0, 200.0, 300.0, 400.0):
        store.sink("http_req_duration", ok).add(v)  # type: ignore[call-arg]
    for v in (10.0, 30.0):
        store.sink("checkout_p95_ms", make_tags({"scenario": "checkout"})).add(v)  # type: ignore[call-arg]
    store.sink("vus", ()).add(7.0, 1.0)  # type: ignore[call-arg]
    store.sink("upload_bytes", make_tags({"scenario": "upload"})).add(1024)  # type: ignore[call-arg]
    return store


def _by_name(points: list[tuple[Any, float]]) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for labels, value in points:
        d = dict(labels)
        out.setdefault(d.pop("__name__"), []).append((d, value))
    return out


def test_store_maps_to_k6_series_with_k6_units() -> None:
    cfg = PrometheusConfig(url="http://127.0.0.1:1/", trend_stats=("max", "count", "avg"))
    points = SeriesMapper(cfg, "t1").map_store(_store())
    got = _by_name(points)
    assert sorted(v for _, v in got["k6_http_reqs_total"]) == [2.0, 6.0]
    assert got["k6_http_req_failed_rate"] == [
        (
            {
                "method": "GET",
                "name": "list",
                "scenario": "browse",
                "status": "200",
                "testid": "t1",
            },
            0.25,
        )
    ]
    # Time trends in seconds (k6 adaptUnit); count is a count; other trends unchanged.
    assert got["k6_http_req_duration_max"][0][1] == 0.4
    assert got["k6_http_req_duration_avg"][0][1] == 0.25
    assert got["k6_http_req_duration_count"][0][1] == 4.0
    assert got["k6_checkout_p95_ms_max"][0][1] == 30.0
    assert got["k6_vus"] == [({"testid": "t1"}, 7.0)]
    assert got["k6_upload_bytes_total"][0][1] == 1024.0
    assert all(dict(labels)["__name__"].startswith("k6_") for labels, _ in points)
    # Labels sorted, as the remote-write spec requires.
    assert all(list(labels) == sorted(labels) for labels, _ in points)


def test_cap_refuses_new_series_warns_once_and_reports() -> None:
    store = MetricStore(DEFS)
    for i in range(50):
        store.sink("http_reqs", make_tags({"name": f"http://x/tracks/{i}"})).add(1)  # type: ignore[call-arg]
    logs: list[str] = []
    with Endpoint() as ep:
        out = PrometheusOutput(
            PrometheusConfig(url=ep.url, max_series=10), logs.append, flush_wait=30.0
        )
        out.start("t")
        out.interval(store, 1000.0)
        out.interval(store, 1001.0)
        report = out.end(1002.0)
    assert (report["series"], report["capped"], report["max_series"]) == (10, 40, 10)
    assert report["sent_batches"] + report["skipped_batches"] == 2
    assert report["failed_batches"] == 0
    warnings = [ln for ln in logs if "warning" in ln]
    assert len(warnings) == 1
    assert "more than 10 series" in warnings[0] and "'name'" in warnings[0]
    # Admission is stable: the same ten series every interval.
    sent = [sorted(labels for labels, _ in decode(body)) for body in ep.bodies]
    assert all(len(b) == 10 and b == sent[0] for b in sent)


def test_encode_round_trips_through_protobuf_and_snappy() -> None:
    points = [
        ((("__name__", "k6_http_reqs_total"), ("testid", "t")), 42.0),
        ((("__name__", "k6_vus"), ("testid", "t")), 3.5),
    ]
    body = encode(points, 1_700_000_000_123)
    assert decode(body) == [(labels, [(value, 1_700_000_000_123)]) for labels, value in points]
    stale = decode(encode([(points[0][0], STALE_NAN)], 5))[0][1][0][0]
    assert math.isnan(stale)


@pytest.mark.parametrize(
    ("url", "env", "needle"),
    [
        ("http://example.com/api/v1/write", {}, "example.com"),
        ("ftp://127.0.0.1/x", {}, "ftp://127.0.0.1/x"),
        ("http://127.0.0.1/w", {"K6_PROMETHEUS_RW_TREND_STATS": "p(95),p(200)"}, "TREND_STATS"),
        ("http://127.0.0.1/w", {"K6_PROMETHEUS_RW_TREND_STATS": "p95"}, "TREND_STATS"),
        ("http://127.0.0.1/w", {"VEZA_RAY_PROMETHEUS_MAX_SERIES": "0"}, "MAX_SERIES"),
        ("http://127.0.0.1/w", {"K6_PROMETHEUS_RW_LABELS": "novalue"}, "novalue"),
        ("http://127.0.0.1/w", {"K6_PROMETHEUS_RW_STALE_MARKERS": "yes"}, "STALE_MARKERS"),
        (
            "http://127.0.0.1/w",
            {"K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM": "true"},
            "NATIVE_HISTOGRAM: not supported",
        ),
    ],
)
def test_bad_config_is_named(url: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(PrometheusConfigError) as exc:
        parse_config(url, env, LOOPBACK)
    assert needle in str(exc.value)


def test_allowed_host_and_settings_are_read() -> None:
    cfg = parse_config(
        "https://prom.internal:9090/api/v1/write?x=1",
        {
            "K6_PROMETHEUS_RW_TREND_STATS": "p(95), p(99),max",
            "K6_PROMETHEUS_RW_LABELS": "env=staging,team=perf",
            "K6_PROMETHEUS_RW_BEARER_TOKEN": "s3cr3t-token",
            "K6_PROMETHEUS_RW_STALE_MARKERS": "true",
        },
        frozenset({"prom.internal"}),
    )
    assert cfg.trend_stats == ("p(95)", "p(99)", "max")
    assert cfg.labels == (("env", "staging"), ("team", "perf"))
    assert cfg.stale_markers
    assert ("Authorization", "Bearer s3cr3t-token") in cfg.headers
    assert "s3cr3t" not in repr(cfg)
    assert cfg.shown_url == "https://prom.internal:9090/api/v1/write"


def test_default_test_id() -> None:
    assert default_test_id((("testid", "nightly-42"),), "x/gate.py", 0.0) == "nightly-42"
    assert default_test_id((), "scenarios/veza_mixed.py", 0.0) == "veza_mixed-19700101T000000Z"


# ---- the sender against real local endpoints ------------------------------------------


@contextmanager
def _sender(url: str) -> Iterator[tuple[Sender, list[str]]]:
    logs: list[str] = []
    yield Sender(url, (("Authorization", "Bearer tok"),), logs.append, timeout=2.0), logs


POINTS = [((("__name__", "k6_vus"), ("testid", "t")), 1.0)]


def test_sender_delivers_the_newest_batch_with_the_spec_headers() -> None:
    with Endpoint() as ep, _sender(ep.url) as (sender, _):
        sender.submit(POINTS, 1000)
        stats = sender.close(30.0)
    assert stats.sent_batches == 1 and stats.dropped_samples == 0
    assert decode(ep.bodies[-1]) == [(POINTS[0][0], [(1.0, 1000)])]
    h = {k.lower(): v for k, v in ep.headers[-1].items()}
    assert h["content-encoding"] == "snappy"
    assert h["content-type"] == "application/x-protobuf"
    assert h["x-prometheus-remote-write-version"] == "0.1.0"
    assert h["authorization"] == "Bearer tok"


def test_a_4xx_is_not_retried_and_is_counted() -> None:
    with Endpoint(status=400) as ep, _sender(ep.url) as (sender, logs):
        sender.submit(POINTS, 1000)
        stats = sender.close(30.0)
    assert (stats.sent_batches, stats.failed_batches, stats.retries) == (0, 1, 0)
    assert stats.dropped_samples == 1
    assert "HTTP 400" in stats.last_error
    assert len(ep.bodies) == 1
    assert logs and "Bearer tok" not in " ".join(logs)


def test_a_5xx_is_retried_with_backoff_then_given_up() -> None:
    with Endpoint(status=503) as ep, _sender(ep.url) as (sender, _):
        sender.submit(POINTS, 1000)
        stats = sender.close(30.0)
    assert stats.failed_batches == 1 and stats.sent_batches == 0
    assert stats.retries == 4  # MAX_ATTEMPTS = 5 tries in all
    assert len(ep.bodies) == 5


def test_a_down_endpoint_never_blocks_and_everything_is_counted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with _sender(f"http://127.0.0.1:{port}/api/v1/write") as (sender, logs):
            for i in range(20):
                sender.submit(POINTS, 1000 + i)
            stats = sender.close(1.0)
    assert stats.sent_batches == 0
    assert stats.failed_batches + stats.skipped_batches == 20
    assert stats.failed_batches >= 1
    assert stats.dropped_samples == 20
    assert "refused" in stats.last_error.lower()
    assert len(logs) == 1  # one clear line, not one per interval


def test_a_slow_endpoint_is_abandoned_after_the_bounded_wait() -> None:
    with Endpoint(hold=True) as ep, _sender(ep.url) as (sender, _):
        sender.submit(POINTS, 1000)
        stats = sender.close(0.5)
        ep.release.set()
    assert stats.sent_batches == 0
    assert stats.failed_batches + stats.skipped_batches == 1
    assert stats.dropped_samples == 1


def test_thresholds_are_series_in_k6_units() -> None:
    from veza_ray.core.thresholds import judge, parse_thresholds

    ths = parse_thresholds(
        {
            "http_req_duration{scenario:browse}": ["p(95)<400"],
            "http_req_failed": ["rate<0.01"],
            "http_reqs": ["count>5"],
            "checkout_p95_ms": ["p(95)<800"],
        },
        DEFS,
    )
    observed = {"p(95)<400": 250.0, "rate<0.01": 0.02, "count>5": 8.0}
    verdicts = [judge(th, observed.get(th.condition.source)) for th in ths]
    mapper = SeriesMapper(PrometheusConfig(url="http://127.0.0.1:1/"), "t")
    got: dict[tuple[str, str], float] = {}
    for labels, value in verdict_points(mapper, MetricStore(DEFS), verdicts):
        d = dict(labels)
        assert d["testid"] == "t"
        got[(d["__name__"].removeprefix("k6_veza_ray_threshold_"), d["condition"])] = value
    assert got[("observed", "p(95)<400")] == 0.25 and got[("bound", "p(95)<400")] == 0.4
    assert got[("ok", "p(95)<400")] == 1.0
    assert got[("observed", "rate<0.01")] == 0.02 and got[("ok", "rate<0.01")] == 0.0
    assert got[("bound", "count>5")] == 5.0 and got[("observed", "count>5")] == 8.0
    # A trend that is not time-typed keeps its own unit; no samples, no observed series.
    assert got[("bound", "p(95)<800")] == 800.0
    assert ("observed", "p(95)<800") not in got


def test_stale_markers_follow_the_last_values() -> None:
    store = _store()
    with Endpoint() as ep:
        out = PrometheusOutput(
            PrometheusConfig(url=ep.url, stale_markers=True), lambda s: None, flush_wait=30.0
        )
        out.start("t")
        out.interval(store, 1000.0)
        report = out.end(1001.0)
    assert report["sent_batches"] == 2 and report["dropped_samples"] == 0
    last, stale = decode(ep.bodies[0]), decode(ep.bodies[1])
    assert [labels for labels, _ in stale] == [labels for labels, _ in last]
    assert all(math.isnan(s[0][0]) and s[0][1] == 1_000_001 for _, s in stale)


def test_user_info_in_the_url_becomes_basic_auth_and_is_never_shown() -> None:
    cfg = parse_config("http://perf:p%40ss@127.0.0.1:9090/api/v1/write", {}, LOOPBACK)
    assert cfg.url == "http://127.0.0.1:9090/api/v1/write"
    assert cfg.shown_url == "http://127.0.0.1:9090/api/v1/write"
    assert ("Authorization", "Basic cGVyZjpwQHNz") in cfg.headers  # perf:p@ss
    with pytest.raises(PrometheusConfigError) as exc:
        parse_config("http://perf:hunter2@example.com/api/v1/write", {}, LOOPBACK)
    assert "hunter2" not in str(exc.value) and "example.com" in str(exc.value)
