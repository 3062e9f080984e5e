"""Real k6 (`-o experimental-prometheus-rw`) and veza-ray (`-o prometheus=`) push the same
test to one real Prometheus: the same series names, the same labels (less the tags
veza-ray's HTTP client does not make) and the same counts. k6 is the oracle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from k6run import k6_argv, run_tool
from prom import Prometheus
from requires import find_k6, requires
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

K6_SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';
import { Trend, Counter } from 'k6/metrics';
const myWait = new Trend('my_wait', true);
const myPlain = new Trend('my_plain');
const myCount = new Counter('my_count');
export const options = {
  scenarios: { fast: { executor: 'shared-iterations', vus: 1, iterations: 10, exec: 'fast' } },
};
export function fast() {
  const r = http.get(`${__ENV.URL}/fast`, { tags: { name: 'fast' } });
  check(r, { 'fast 200': (r) => r.status === 200 });
  myWait.add(r.timings.waiting);
  myPlain.add(3);
  myCount.add(1);
  http.get(`${__ENV.URL}/status/503`, { tags: { name: 'err' } });
}
"""

VEZA_SCRIPT = """
from veza_ray import Counter, Trend, check, env

my_wait = Trend("my_wait", time=True)
my_plain = Trend("my_plain")
my_count = Counter("my_count")
options = {
    "tags": {"testid": "veza-parity"},
    "scenarios": {
        "fast": {"executor": "shared-iterations", "vus": 1, "iterations": 10, "exec": "fast"}
    },
}

async def fast(vu):
    r = await vu.http.get(env("URL") + "/fast", tags={"name": "fast"})
    check(r, {"fast 200": lambda r: r.status == 200})
    my_wait.add(r.timings.waiting)
    my_plain.add(3)
    my_count.add(1)
    await vu.http.get(env("URL") + "/status/503", tags={"name": "err"})
"""

STATS = "p(95),p(99.9),count"
K6_OUT = ("-o", "experimental-prometheus-rw")
# Tags k6's HTTP client adds and veza-ray's does not: `url` (k6 sets it to the name when
# a name is given), `proto`, and `error_code` on an HTTP error status (k6: 1503 for 503).
K6_ONLY_LABELS = {"url", "proto", "error_code"}


def _series(prom: Prometheus, testid: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for r in prom.query(f'{{testid="{testid}",__name__!~"k6_veza_ray_.*|k6_vus.*"}}'):
        labels = {k: v for k, v in r["metric"].items() if k not in K6_ONLY_LABELS}
        out[(labels.pop("__name__"), frozenset(labels.items()))] = float(r["value"][1])
    return out


@requires("prometheus", "k6")
def test_same_series_as_k6(tmp_path: Path, known_server: KnownServer) -> None:
    k6_script = tmp_path / "parity.js"
    k6_script.write_text(K6_SCRIPT)
    with Prometheus(tmp_path / "prom") as prom:
        env = {
            **os.environ,
            "URL": known_server.url,
            "K6_PROMETHEUS_RW_SERVER_URL": prom.write_url,
            "K6_PROMETHEUS_RW_TREND_STATS": STATS,
        }
        k6 = run_tool(
            k6_argv(find_k6() or "k6", k6_script, *K6_OUT, "--tag", "testid=k6-parity"),
            env=env,
            timeout=None,
        )
        assert k6.returncode == 0, k6.stderr
        res = veza(
            "run",
            write_script(tmp_path, VEZA_SCRIPT),
            "--actors",
            "1",
            "-e",
            f"URL={known_server.url}",
            "--quiet",
            "-o",
            f"prometheus={prom.write_url}",
            env={"K6_PROMETHEUS_RW_TREND_STATS": STATS},
        )
        assert res.returncode == 0, res.stderr
        theirs, ours = _series(prom, "k6-parity"), _series(prom, "veza-parity")
    theirs_k, ours_k = _without_testid(theirs), _without_testid(ours)
    assert set(ours_k) == set(theirs_k), set(ours_k) ^ set(theirs_k)
    for s, v in theirs_k.items():
        name = s[0]
        if name.startswith("k6_data_"):
            continue  # bytes on the wire: the HTTP client's business, not this output's
        if name.endswith(("_total", "_rate")) or name == "k6_my_plain_p95":
            assert ours_k[s] == v, s  # counts, shares, and a constant's percentile
        elif name.endswith("_count"):
            # k6 runs every stat of a time trend through adaptUnit (ms -> s), the count
            # too: 10 requests show as 0.01. veza-ray keeps the count a count.
            expected = v if name == "k6_my_plain_count" else v * 1000
            assert ours_k[s] == pytest.approx(expected), s
    fast = {"name": "fast", "scenario": "fast", "method": "GET", "status": "200"}
    fast["expected_response"] = "true"
    assert ours_k[("k6_http_reqs_total", frozenset(fast.items()))] == 10


def _without_testid(
    series: dict[tuple[str, frozenset[tuple[str, str]]], float],
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (n, frozenset(kv for kv in labels if kv[0] != "testid")): v
        for (n, labels), v in series.items()
    }
