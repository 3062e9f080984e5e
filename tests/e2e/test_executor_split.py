"""Iteration executors deliver exactly their planned totals on 1, 2, 3 and 7 actors.

Through the real CLI on a real local Ray cluster, counted at the target (a local server
counting requests per scenario) and in the summary JSON. Each run holds, for every
iteration-counting executor, one scenario with fewer VUs than actors, one with as many
and one with more, so actors without a VU (which must get no work) are always present
from 2 actors up. The totals are k6's: shared-iterations runs its iterations,
per-vu-iterations vus x iterations, constant-arrival-rate 5/s for 2 s starts 10 (at
0, 0.2, ..., 1.8 s), and ramping-arrival-rate 0 -> 10/s over 1 s then 10/s for 1 s plans
15, the 15th exactly at the end, which does not run: 14.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import KnownServer, veza, write_script

pytestmark = pytest.mark.ray

ACTORS = [1, 2, 3, 7]


def _scenarios(actors: int) -> dict[str, tuple[dict[str, object], int]]:
    """name -> (k6 scenario, planned iterations) for VU counts below, at and above actors."""
    out: dict[str, tuple[dict[str, object], int]] = {}
    for label, vus in (("below", max(1, actors - 1)), ("equal", actors), ("above", actors + 2)):
        out[f"si_{label}"] = (
            {"executor": "shared-iterations", "vus": vus, "iterations": 2 * vus + 1},
            2 * vus + 1,
        )
        out[f"pv_{label}"] = (
            {"executor": "per-vu-iterations", "vus": vus, "iterations": 2},
            2 * vus,
        )
        out[f"car_{label}"] = (
            {"executor": "constant-arrival-rate", "rate": 5, "duration": "2s",
             "preAllocatedVUs": vus, "maxVUs": vus},
            10,
        )  # fmt: skip
        out[f"rar_{label}"] = (
            {"executor": "ramping-arrival-rate", "startRate": 0, "preAllocatedVUs": vus,
             "stages": [{"duration": "1s", "target": 10}, {"duration": "1s", "target": 10}]},
            14,
        )  # fmt: skip
    return out


SCRIPT = """
from veza_ray import env

SCENARIOS = %(scenarios)s
options = {
    "scenarios": {name: {**spec, "exec": "hit", "env": {"NAME": name}}
                  for name, spec in SCENARIOS.items()},
    "thresholds": {f"iterations{{scenario:{name}}}": ["count>=0"] for name in SCENARIOS},
}

async def hit(vu):
    await vu.http.get(env("URL") + "/hit/" + vu.env["NAME"])
"""


@pytest.mark.parametrize("actors", ACTORS)
def test_planned_totals_at_the_target(tmp_path: Path, actors: int) -> None:
    scenarios = _scenarios(actors)
    specs = {name: spec for name, (spec, _) in scenarios.items()}
    script = write_script(tmp_path, SCRIPT % {"scenarios": repr(specs)})
    out = tmp_path / "summary.json"
    with KnownServer() as server:
        res = veza(
            "run", script, "--actors", str(actors), "-e", f"URL={server.url}",
            "--summary-export", str(out), "--quiet",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr + res.stdout
        seen = {name: server.counts[f"hit:{name}"] for name in scenarios}
    planned = {name: total for name, (_, total) in scenarios.items()}
    assert seen == planned
    metrics = json.loads(out.read_text())["metrics"]
    counted = {
        name: metrics[f"iterations{{scenario:{name}}}"]["values"]["count"] for name in scenarios
    }
    assert counted == planned
    assert metrics["http_reqs"]["values"]["count"] == sum(planned.values())
    assert "dropped_iterations" not in metrics
