"""Executors as pairs: one table, a config half that stays pure, no unknown name reaching
a runner, and an executor added with one module and one table line.

Pure: no Ray, no network, no sleeping, no wall-clock limits.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import veza_ray.core.executors as executors_pkg
from veza_ray.core.executors import EXECUTORS, executor
from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun, vu_segment
from veza_ray.core.inspect import build_report
from veza_ray.core.options import OptionsError, parse_options
from veza_ray.core.plan import Segment, make_plan
from veza_ray.core.segments import ExecutionTuple

PKG = Path(executors_pkg.__file__).parent


def test_the_table_pairs_each_name_with_its_own_config_and_runner() -> None:
    assert list(EXECUTORS) == [
        "constant-vus",
        "ramping-vus",
        "per-vu-iterations",
        "shared-iterations",
        "constant-arrival-rate",
        "ramping-arrival-rate",
    ]
    for name, pair in EXECUTORS.items():
        assert issubclass(pair.config, ScenarioConfig)
        assert pair.config.KEYS, name
        # both halves of a pair come from the same module
        assert pair.config.__module__ == pair.run.__module__
        assert pair.run.__module__.rsplit(".", 1)[1] == name.replace("-", "_")
    assert {n for n, p in EXECUTORS.items() if p.config.has_iteration_budget} == {
        "per-vu-iterations",
        "shared-iterations",
    }
    assert {n for n, p in EXECUTORS.items() if p.config.is_arrival_rate} == {
        "constant-arrival-rate",
        "ramping-arrival-rate",
    }


def test_parse_options_builds_the_executors_own_config_class() -> None:
    opts = parse_options(
        {
            "scenarios": {
                "a": {"executor": "constant-vus", "duration": "1s"},
                "b": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 1,
                      "stages": [{"duration": "1s", "target": 1}]},
            }
        }
    )  # fmt: skip
    assert [type(sc) for sc in opts.scenarios] == [
        EXECUTORS["constant-vus"].config,
        EXECUTORS["ramping-arrival-rate"].config,
    ]


@pytest.mark.parametrize("bad", ["constant-vu", "", ["constant-vus"], None, 3])
def test_an_unknown_executor_is_refused_by_name(bad: object) -> None:
    with pytest.raises(OptionsError) as err:
        parse_options({"scenarios": {"s": {"executor": bad, "vus": 1, "duration": "1s"}}})
    assert err.value.errors[0].startswith("scenarios.s.executor: ")
    assert "is not one of constant-vus, ramping-vus" in err.value.errors[0]


def test_the_runner_lookup_refuses_a_name_it_does_not_list() -> None:
    """runner.py dispatches with ``executor(name).run``: no default branch to fall into."""
    assert executor("shared-iterations") is EXECUTORS["shared-iterations"]
    with pytest.raises(ValueError, match="'arrival-rate' is not one of constant-vus"):
        executor("arrival-rate")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PKG.glob("*.py")), ids=lambda p: p.name)
def test_executor_modules_import_nothing_of_the_engine(path: Path) -> None:
    """Both halves live in one module, so the module itself must stay pure: the runner
    half is an ``async def`` over the SegmentRun protocol, not over asyncio."""
    bad = {m for m in _imports(path) if m.split(".")[0] in ("asyncio", "aiohttp", "ray")}
    bad |= {
        m
        for m in _imports(path)
        if m in ("veza_ray.engine.runner", "veza_ray.engine.http", "socket")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_config_side_loads_without_the_engine() -> None:
    """In a fresh interpreter: the table, options and plan load no runner, HTTP or Ray."""
    code = (
        "import sys, veza_ray.core.executors, veza_ray.core.options, veza_ray.core.plan, veza_ray.core.merge;"
        "print(','.join(m for m in sys.modules if m in "
        "('aiohttp', 'ray', 'veza_ray.engine.runner', 'veza_ray.engine.http', 'veza_ray.engine.h1client')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


# ---- adding an executor: one module (here, this test's class and run) and one line ----


class EveryVUOnce(ScenarioConfig):
    """A made-up executor: each VU runs exactly one iteration."""

    KEYS = frozenset({"vus"})
    has_iteration_budget = True

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        return cls(**common, vus=c.integer(raw, "vus", where, 1, 1))

    @property
    def max_vus_needed(self) -> int:
        return self.vus

    @property
    def run_duration(self) -> float:
        return self.max_duration

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        return vu_segment(self, et, vu_id_base, 1)

    def planned_iterations(self, seg: Segment) -> int | None:
        return seg.vus


async def run_every_vu_once(r: SegmentRun) -> None:
    await r.run_vus(r.seg.vus, lambda vu, n: n < 1, r.t0 + r.cfg.max_duration)


def test_an_executor_added_by_one_table_line_is_parsed_planned_and_inspected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        EXECUTORS, "every-vu-once", executors_pkg.Executor(EveryVUOnce, run_every_vu_once)
    )
    opts = parse_options({"scenarios": {"s": {"executor": "every-vu-once", "vus": 5}}})
    (sc,) = opts.scenarios
    assert isinstance(sc, EveryVUOnce) and sc.vus == 5
    plan = make_plan(opts.scenarios, 2)
    assert [seg.vus for (seg,) in plan] == [3, 2]
    assert [sc.planned_iterations(seg) for (seg,) in plan] == [3, 2]
    report = build_report(opts, plan)
    assert report["scenarios"][0]["iterations"] == 1
    assert executor("every-vu-once").run is run_every_vu_once
    with pytest.raises(OptionsError, match=r"scenarios\.s\.rate: is not an option of the "):
        parse_options({"scenarios": {"s": {"executor": "every-vu-once", "rate": 5}}})


def test_a_runner_refuses_a_config_whose_executor_is_not_in_the_table() -> None:
    """Even a config built past parse_options cannot reach a runner: the Runner looks each
    segment's executor up when it is built, before any VU or connection exists."""
    from dataclasses import replace

    from veza_ray.core.metric_types import BUILTIN_METRICS
    from veza_ray.core.options import Options
    from veza_ray.engine.runner import Runner

    opts = parse_options({"scenarios": {"s": {"executor": "constant-vus", "duration": "1s"}}})
    odd = Options(scenarios=(replace(opts.scenarios[0], executor="arrival-rate"),))
    plan = make_plan(odd.scenarios, 1)

    async def flow(vu: Any) -> None:
        raise AssertionError("no iteration may run")

    with pytest.raises(ValueError, match="'arrival-rate' is not one of"):
        Runner(odd, plan[0], {"default": flow}, BUILTIN_METRICS, {})
