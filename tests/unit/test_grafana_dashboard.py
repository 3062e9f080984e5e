"""grafana/veza-gate-dashboard.json: valid JSON, a Grafana dashboard, and every metric
its PromQL reads is one `-o prometheus=` produces with the default settings."""

from __future__ import annotations

import json

from prom import DASHBOARD, dashboard_exprs, dashboard_metric_names

from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.outputs.prometheus import OWN_PREFIX, OWN_SERIES, PRW_DEFAULT_TREND_STATS, prom_names


def produced_names() -> set[str]:
    names = {OWN_PREFIX + n for n in OWN_SERIES}
    for d in BUILTIN_METRICS.values():
        names.update(prom_names(d.name, d.type, PRW_DEFAULT_TREND_STATS))
    return names


def test_dashboard_is_a_grafana_dashboard() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] and dash["uid"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in dash["templating"]["list"]} >= {"testid", "DS_PROMETHEUS"}
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["targets"], p["title"]
            assert all('testid=~"$testid"' in t["expr"] for t in p["targets"]), p["title"]


def test_every_metric_the_dashboard_reads_is_produced() -> None:
    used = dashboard_metric_names()
    assert used, dashboard_exprs()
    assert used <= produced_names(), used - produced_names()
    # It shows the gate: thresholds, per-scenario latency, VUs and generator health.
    for name in (
        "k6_veza_ray_threshold_observed",
        "k6_veza_ray_scenario_http_req_duration_p95",
        "k6_veza_ray_scenario_http_req_duration_p99",
        "k6_veza_ray_scenario_vus",
        "k6_veza_ray_generator_loop_lag_p99_seconds",
        "k6_http_reqs_total",
    ):
        assert name in used
