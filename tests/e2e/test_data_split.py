"""Test data and the execution context across 3 actors on a local Ray cluster.

One run, four scenarios, each reporting what it used to a real local target
(``/hit/<what>`` counts each request): ``iterationInTest`` unique and gap-free, a
per-iteration data file whose rows run out (stop), one that wraps round (cycle), a
per-vu file, and ``--tag`` on every sample. Real k6 runs the same iterationInTest
scenario (one instance) and must give the same numbers.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from k6run import k6_argv
from requires import find_k6, requires
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

SCENARIO = """
from veza_ray import DataFile, SharedArray, env, execution

options = {
    "tags": {"team": "script"},
    "scenarios": {
        "ids": {"executor": "shared-iterations", "vus": 5, "iterations": 40, "exec": "ids"},
        "rows": {"executor": "shared-iterations", "vus": 4, "iterations": 40, "exec": "rows"},
        "cyc": {"executor": "shared-iterations", "vus": 3, "iterations": 12, "exec": "cyc"},
        "pervu": {"executor": "per-vu-iterations", "vus": 6, "iterations": 3, "exec": "pervu"},
    },
    "thresholds": {"iterations{team:data}": ["count==95"]},
}
users = DataFile("users.csv", split="per-iteration", on_exhausted="stop", scenario="rows")
small = DataFile("small.csv", split="per-iteration", on_exhausted="cycle", scenario="cyc")
people = DataFile("people.jsonl", split="per-vu", scenario="pervu")
prefix = SharedArray("prefix", lambda: ["row"])

async def ids(vu):
    await vu.http.get(f"{env('URL')}/hit/it-{execution.scenario.iteration_in_test}")

async def rows(vu):
    await vu.http.get(f"{env('URL')}/hit/{prefix[0]}-{users.row()['id']}")

async def cyc(vu):
    await vu.http.get(f"{env('URL')}/hit/cyc-{small.row()['id']}")

async def pervu(vu):
    await vu.http.get(f"{env('URL')}/hit/vu-{people.row()['id']}-{execution.vu.id_in_test}")
"""

K6_SCRIPT = """
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: { ids: { executor: 'shared-iterations', vus: 5, iterations: 40 } },
};
export default function () {
  http.get(`${__ENV.URL}/hit/it-${exec.scenario.iterationInTest}`);
}
"""


def _data(tmp_path: Path) -> None:
    for name, count in (("users.csv", 25), ("small.csv", 5)):
        with (tmp_path / name).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "name"])
            w.writerows([f"u{i}", f"user {i}"] for i in range(count))
    lines = [json.dumps({"id": f"p{i}"}) for i in range(6)]
    (tmp_path / "people.jsonl").write_text("\n".join(lines) + "\n")


def _hits(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {
        k[len("hit:" + prefix) :]: v for k, v in counts.items() if k.startswith("hit:" + prefix)
    }


def test_rows_and_iteration_numbers_across_three_actors(tmp_path: Path) -> None:
    _data(tmp_path)
    script = write_script(tmp_path, SCENARIO)
    summary_path = tmp_path / "summary.json"
    with KnownServer() as server:
        proc = veza(
            "run", script, "--actors", "3", "-e", f"URL={server.url}",
            "--tag", "team=data", "--summary-export", str(summary_path),
        )  # fmt: skip
        counts = dict(server.counts)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # iterationInTest: 0..39, each exactly once, over the 3 actors
    assert _hits(counts, "it-") == {str(i): 1 for i in range(40)}
    # per-iteration, stop: the 25 rows each used once, then the scenario stopped
    assert _hits(counts, "row-") == {f"u{i}": 1 for i in range(25)}
    # per-iteration, cycle: 12 iterations over 5 rows, iterationInTest mod 5
    assert _hits(counts, "cyc-") == {"u0": 3, "u1": 3, "u2": 2, "u3": 2, "u4": 2}
    # per-vu: each of the 6 rows belongs to one VU, for its 3 iterations
    vus = _hits(counts, "vu-")
    assert sorted(k.split("-")[0] for k in vus) == [f"p{i}" for i in range(6)]
    assert set(vus.values()) == {3}
    summary = json.loads(summary_path.read_text())
    data = {f["name"]: f for f in summary["veza_ray"]["data"]}
    assert (data["users.csv"]["rows_used"], data["users.csv"]["exhausted"]) == (25, True)
    assert (data["small.csv"]["rows_used"], data["small.csv"]["uses"]) == (5, 12)
    assert data["small.csv"]["exhausted"] is True
    assert (data["people.jsonl"]["rows_used"], data["people.jsonl"]["exhausted"]) == (6, False)
    assert "data users.csv: 25 of 25 rows used (per-iteration), exhausted (stopped)" in proc.stdout
    # --tag replaced the script's tags on every sample, as k6's --tag does
    (verdict,) = summary["veza_ray"]["verdicts"]
    assert (verdict["metric_key"], verdict["ok"]) == ("iterations{team:data}", True)
    assert summary["metrics"]["iterations"]["values"]["count"] == 40 + 25 + 12 + 18
    assert "team" not in json.dumps(summary["metrics"]).replace("team:data", "")


@requires("k6")
def test_iteration_in_test_is_k6s(tmp_path: Path) -> None:
    k6 = find_k6()
    assert k6 is not None
    js = tmp_path / "ids.js"
    js.write_text(K6_SCRIPT)
    with KnownServer() as server:
        subprocess.run(
            k6_argv(k6, js, "-e", f"URL={server.url}"),
            capture_output=True, check=True, cwd=tmp_path,
        )  # fmt: skip
        counts = dict(server.counts)
    assert _hits(counts, "it-") == {str(i): 1 for i in range(40)}
