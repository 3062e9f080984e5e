"""`-o prometheus=URL` through the real CLI, a real local Ray cluster, a real server and a
real Prometheus (the Debian package, started here on loopback with its remote-write
receiver): what PromQL returns after the run is what the summary JSON says."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from cli import CLI
from prom import Endpoint, Prometheus, dashboard_exprs
from requires import requires
from servers import KnownServer, veza, write_script

PY_CLI = CLI

SCRIPT = """
from veza_ray import check, env

options = {
    "tags": {"testid": "%(testid)s"},
    "scenarios": {
        "fast": {"executor": "constant-vus", "vus": 2, "duration": "4s", "exec": "fast"},
        "slow": {"executor": "constant-vus", "vus": 2, "duration": "4s", "exec": "slow"},
    },
    "thresholds": {
        "http_req_duration{scenario:slow}": ["p(95)<400"],
        "http_req_failed": ["rate<0.5"],
        "http_req_duration": ["p(99)<1500"],
    },
}

async def fast(vu):
    r = await vu.http.get(env("URL") + "/fast", tags={"name": "fast"})
    check(r, {"fast 200": lambda r: r.status == 200})
    if vu.iteration %% 4 == 0:
        await vu.http.get(env("URL") + "/status/503", tags={"name": "err"})

async def slow(vu):
    await vu.http.get(env("URL") + "/slow", tags={"name": "slow"})
"""


def _run(
    tmp_path: Path, url: str, server: KnownServer, testid: str, code: int = 0
) -> tuple[Any, dict[str, Any]]:
    script = write_script(tmp_path, SCRIPT % {"testid": testid})
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "2",
        "-e",
        f"URL={server.url}",
        "--summary-export",
        str(out),
        "--quiet",
        "-o",
        f"prometheus={url}",
        env={"K6_PROMETHEUS_RW_TREND_STATS": "p(95),p(99)"},
    )
    assert res.returncode == code, res.stderr + res.stdout
    return res, json.loads(out.read_text())


@requires("prometheus")
@pytest.mark.ray
def test_promql_returns_the_summary_numbers(tmp_path: Path, known_server: KnownServer) -> None:
    testid = "e2e-" + uuid.uuid4().hex[:8]
    with Prometheus(tmp_path / "prom") as prom:
        res, summary = _run(tmp_path, prom.write_url, known_server, testid)
        report = summary["veza_ray"]["outputs"]["prometheus"]
        assert report["testid"] == testid
        assert report["sent_batches"] >= 1 and report["failed_batches"] == 0
        assert report["capped"] == 0
        sel = f'testid="{testid}"'
        m = summary["metrics"]

        reqs = prom.value(f"sum(k6_http_reqs_total{{{sel}}})")
        assert reqs == m["http_reqs"]["values"]["count"] == known_server.total
        assert (
            prom.value(f"sum(k6_iterations_total{{{sel}}})") == m["iterations"]["values"]["count"]
        )
        failed = prom.value(f'sum(k6_http_reqs_total{{{sel},expected_response="false"}})')
        rate = m["http_req_failed"]["values"]["rate"]
        assert 0 < rate < 1
        assert failed / reqs == rate
        gate = f'k6_veza_ray_threshold_observed{{{sel},threshold="http_req_failed"}}'
        assert prom.value(gate) == rate

        # The last interval's p95, pushed, is the merged digest's: per series (slow has
        # one), per scenario (merged across its series) and as the gate judged it.
        dist = summary["veza_ray"]["distributions"]
        slow_p95 = dist["slow"]["quantiles"]["p(95)"]
        q = f'k6_http_req_duration_p95{{{sel},scenario="slow"}}'
        assert prom.value(q) == slow_p95 / 1000.0
        for sc in ("fast", "slow"):
            q = f'k6_veza_ray_scenario_http_req_duration_p95{{{sel},scenario="{sc}"}}'
            assert prom.value(q) == dist[sc]["quantiles"]["p(95)"] / 1000.0
        sub = m["http_req_duration{scenario:slow}"]["values"]["p(95)"]
        q = f'k6_veza_ray_threshold_observed{{{sel},condition="p(95)<400"}}'
        assert prom.value(q) == sub / 1000.0
        assert prom.value(f'k6_veza_ray_threshold_bound{{{sel},condition="p(95)<400"}}') == 0.4

        # Every panel of the Grafana dashboard shows something for this run.
        for expr in dashboard_exprs():
            if expr.startswith("label_values("):
                continue
            promql = expr.replace("$testid", testid).replace("$__rate_interval", "1m")
            assert prom.query(promql), f"the dashboard's {expr} is empty for this run"
    assert "pushing merged series" in res.stderr


@pytest.mark.ray
def test_a_stuck_endpoint_does_not_hold_the_run(tmp_path: Path, known_server: KnownServer) -> None:
    with Endpoint(hold=True) as ep:
        # samples the endpoint never took are an output lost: 113 (docs/security.md)
        res, summary = _run(tmp_path, ep.url, known_server, "held", code=113)
        assert ep.requests >= 1
    report = summary["veza_ray"]["outputs"]["prometheus"]
    assert report["sent_batches"] == 0
    assert report["failed_batches"] >= 1
    assert report["dropped_samples"] > 0
    assert report["failed_batches"] + report["skipped_batches"] >= 2
    # The load test itself is whole.
    assert summary["metrics"]["http_reqs"]["values"]["count"] == known_server.total
    assert "not delivered" in res.stderr
    reasons = summary["veza_ray"]["outcome"]["reasons"]
    assert len(reasons) == 1 and reasons[0].startswith("output lost: --out prometheus:")
    assert f"{report['dropped_samples']} sample(s) dropped" in reasons[0]


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        ("prometheus=http://example.com/api/v1/write", "example.com"),
        ("prometheus=ftp://127.0.0.1/x", "ftp://127.0.0.1/x"),
        ("prom=http://127.0.0.1:9090/api/v1/write", "prometheus=URL"),
    ],
)
def test_a_bad_prometheus_url_is_refused_before_any_traffic(
    tmp_path: Path, known_server: KnownServer, flag: str, needle: str
) -> None:
    script = write_script(tmp_path, SCRIPT % {"testid": "x"})
    res = subprocess.run(
        [*PY_CLI, "run", script, "-e", f"URL={known_server.url}", "-o", flag],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert res.returncode == 104, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert known_server.total == 0
