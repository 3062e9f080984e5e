"""`veza-ray inspect`: the plan and per-actor estimates, pure and through the CLI (no load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import veza, write_script

from veza_ray.core import exitcodes
from veza_ray.core.inspect import ACTOR_RPS_CAPACITY, build_report, calibration
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan


def _report(spec: dict[str, object], actors: int, rates: dict[str, float] | None = None):  # type: ignore[no-untyped-def]
    opts = parse_options({"scenarios": spec})
    return build_report(opts, make_plan(opts.scenarios, actors), rates)


def test_arrival_rate_is_split_and_over_capacity_warns() -> None:
    rep = _report(
        {
            "a": {
                "executor": "constant-arrival-rate",
                "rate": 50_000,
                "duration": "10s",
                "preAllocatedVUs": 100,
            }
        },
        2,
    )
    per = [r["requests_per_s"] for r in rep["plan"]["per_actor"]]
    assert sum(per) == pytest.approx(50_000)
    assert all(p > ACTOR_RPS_CAPACITY for p in per)
    assert any("--actors 3 or more" in w for w in rep["warnings"]), rep["warnings"]


def test_closed_model_needs_a_measured_rate() -> None:
    spec = {"c": {"executor": "constant-vus", "vus": 1000, "duration": "10s"}}
    rep = _report(spec, 4)
    assert all(r["requests_per_s"] is None for r in rep["plan"]["per_actor"])
    assert any("--from-summary" in w for w in rep["warnings"])
    rep = _report(spec, 4, {"c": 2.5})
    assert [r["requests_per_s"] for r in rep["plan"]["per_actor"]] == [625.0] * 4
    assert rep["total"]["peak_vus"] == 1000
    assert rep["plan"]["per_actor"][0]["memory_mb"] == pytest.approx(250 * 16 / 1024 + 128, 0.01)


def test_calibration_reads_requests_per_vu_second() -> None:
    summary = {
        "veza_ray": {
            "intervals": [
                {"t": 1.0, "scenarios": {"c": {"reqs": 30, "vus": 10}}},
                {"t": 2.0, "scenarios": {"c": {"reqs": 50, "vus": 10}}},
                {"t": 4.0, "scenarios": {"c": {"reqs": 40, "vus": 5}}},
            ]
        }
    }
    assert calibration(summary) == {"c": pytest.approx(120 / 30)}  # 30 VU-seconds
    assert calibration({}) == {}


def test_cli_inspect_the_seed_gate(tmp_path: Path) -> None:
    res = veza("inspect", "scenarios/veza_mixed.py", "--actors", "4")
    assert res.returncode == 0, res.stderr
    assert "total: peak 1650 VUs" in res.stdout
    assert res.stdout.count("  actor ") == 4
    assert "browse 250/250 VUs" in res.stdout
    res = veza("inspect", "scenarios/veza_mixed.py", "--actors", "2", "--json")
    rep = json.loads(res.stdout)
    assert [r["vus"] for r in rep["plan"]["per_actor"]] == [825, 825]


def test_cli_inspect_exit_codes(tmp_path: Path) -> None:
    bad = write_script(tmp_path, 'options = {"scenarios": {"x": {"executor": "nope"}}}\n')
    assert veza("inspect", bad).returncode == exitcodes.INVALID_CONFIG
    broken = write_script(tmp_path, "import sys\nsys.exit(0)\n", name="broken.py")
    assert veza("inspect", broken).returncode == exitcodes.SCRIPT_ERROR


def test_auto_actors_follows_the_rate_and_the_cpus() -> None:
    from veza_ray.core.inspect import auto_actors

    def opts(spec: dict[str, object]):  # type: ignore[no-untyped-def]
        return parse_options({"scenarios": spec})

    rate = {
        "a": {
            "executor": "constant-arrival-rate",
            "rate": 90_000,
            "duration": "10s",
            "preAllocatedVUs": 100,
        }
    }
    # 90k/s needs 5 actors at 20k each: 3 per node on 2 nodes of 8 CPUs, capped by CPUs.
    assert auto_actors(opts(rate), [8, 8])[0] == 3
    per_node, why = auto_actors(opts(rate), [2])
    assert per_node == 2 and "cap it" in why
    small = {
        "a": {
            "executor": "constant-arrival-rate",
            "rate": 10,
            "duration": "10s",
            "preAllocatedVUs": 2,
        }
    }
    assert auto_actors(opts(small), [16, 16, 16])[0] == 1
    closed = {"c": {"executor": "constant-vus", "vus": 50, "duration": "10s"}}
    per_node, why = auto_actors(opts(closed), [4, 6])
    assert per_node == 4 and "one actor per CPU" in why


def test_cli_refuses_a_bad_actor_count(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        'options = {"scenarios": {"a": {"executor": "constant-vus", "vus": 1, "duration": "1s"}}}\n'
        "async def default(vu):\n    pass\n",
    )
    res = veza("run", script, "--actors", "many")
    assert res.returncode == exitcodes.INVALID_CONFIG
    assert "--actors 'many'" in res.stderr
