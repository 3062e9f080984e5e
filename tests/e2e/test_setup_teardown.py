"""setup()/teardown(): once per test across 3 actors, data JSON-copied to every VU, as k6.

The same k6 script runs in real k6 and, converted, in veza-ray with 3 actors on a local
Ray cluster, against one counting server (tests/servers.py): the server must see exactly
one login and one logout from each tool, every VU's request must carry setup's token, and
each VU's changes to ``data`` must stay its own (a VU's second iteration sees its first
change, nobody else's; teardown sees setup's data untouched). The samples of setup and
teardown carry ``group=::setup`` / ``::teardown`` and no scenario tag, in both tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from k6run import both, convert, run_tool
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

SCRIPT = """
import http from 'k6/http';

export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 2, maxDuration: '60s' } },
  thresholds: {
    'http_reqs{group:::setup}': ['count>=0'],
    'http_reqs{group:::teardown}': ['count>=0'],
    'http_reqs{scenario:s}': ['count>=0'],
  },
};

export function setup() {
  http.get(`${__ENV.URL}/hit/login`);
  return { token: 't0k', seen: 0 };
}

export default function (data) {
  data.seen += 1;
  http.get(`${__ENV.URL}/hit/work-${data.token}-${data.seen}`);
}

export function teardown(data) {
  http.get(`${__ENV.URL}/hit/logout-${data.seen}`);
}
"""


def count(metrics: dict[str, Any], key: str) -> int:
    entry = metrics.get(key, {})
    return int(entry.get("count", entry.get("values", {}).get("count", 0)) or 0)


def test_setup_once_per_test_across_actors_as_k6(tmp_path: Path) -> None:
    js, py = convert(tmp_path, "st", SCRIPT)
    runs: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
    tools = both(js, py, 3, "--quiet")
    for tool, cmd in tools.items():
        out = tmp_path / f"{tool}.json"
        with KnownServer() as server:
            proc = run_tool(
                cmd, "--summary-export", str(out), "-e", f"URL={server.url}", cwd=tmp_path
            )
            counts = dict(server.counts)
        assert proc.returncode == 0, (tool, proc.stderr[-3000:])
        runs[tool] = (counts, json.loads(out.read_text())["metrics"])

    counts, metrics = runs["veza-ray"]
    assert counts == {
        "hit:login": 1,  # once per test, not once per actor
        "hit:work-t0k-1": 3,  # each VU's first iteration: its own copy, changed once
        "hit:work-t0k-2": 3,  # its second: still its own copy (k6 keeps it per VU)
        "hit:logout-0": 1,  # teardown gets setup's data, untouched by any VU
    }, counts
    assert count(metrics, "http_reqs{group:::setup}") == 1
    assert count(metrics, "http_reqs{group:::teardown}") == 1
    assert count(metrics, "http_reqs{scenario:s}") == 6
    assert count(metrics, "http_reqs") == 8
    if "k6" in runs:
        k6_counts, k6_metrics = runs["k6"]
        assert k6_counts == counts
        for key in (
            "http_reqs{group:::setup}",
            "http_reqs{group:::teardown}",
            "http_reqs{scenario:s}",
        ):
            assert count(k6_metrics, key) == count(metrics, key), key


FAILING = """
from veza_ray import env, sleep

options = {{"setupTimeout": "1s", "scenarios": {{"s": {{"executor": "shared-iterations", "vus": 2, "iterations": 4}}}}}}

async def setup(vu):
    await vu.http.get(env("URL") + "/hit/login")
    {body}

async def default(vu, data):
    await vu.http.get(env("URL") + "/hit/work")

async def teardown(vu, data):
    await vu.http.get(env("URL") + "/hit/logout")
"""


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ("raise RuntimeError('login refused')", 107, "setup() failed: RuntimeError: login refused"),
        ("await sleep(30)", 100, "setup() execution timed out after 1 s"),
        ("return {'handle': object()}", 107, "not JSON serializable"),
    ],
)
def test_a_failing_setup_stops_before_any_vu(
    tmp_path: Path, body: str, code: int, says: str
) -> None:
    """k6: a throwing setup exits 107 (ScriptException), one past setupTimeout 100."""
    script = write_script(tmp_path, FAILING.format(body=body))
    with KnownServer() as server:
        res = veza("run", script, "--actors", "2", "--quiet", "-e", f"URL={server.url}")
        counts = dict(server.counts)
    assert res.returncode == code, res.stderr[-2000:]
    assert says in res.stderr
    assert counts == {"hit:login": 1}, counts  # no VU ran, no teardown after a failed setup


ABORTED = """
from veza_ray import env, sleep

options = {
    "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "60s"}},
    "thresholds": {"http_reqs{scenario:s}": [{"threshold": "count<3", "abortOnFail": True}]},
}

async def setup(vu):
    return {"who": "me"}

async def default(vu, data):
    await vu.http.get(env("URL") + "/hit/work")
    await sleep(0.2)

async def teardown(vu, data):
    await vu.http.get(env("URL") + "/hit/logout-" + data["who"])
"""


def test_teardown_runs_after_an_abort(tmp_path: Path) -> None:
    script = write_script(tmp_path, ABORTED)
    with KnownServer() as server:
        res = veza("run", script, "--actors", "2", "--quiet", "-e", f"URL={server.url}")
        counts = dict(server.counts)
    assert res.returncode == 99, res.stderr[-2000:]
    assert counts.get("hit:logout-me") == 1, counts
    assert 3 <= counts.get("hit:work", 0) < 200, counts  # stopped long before 60 s of load
