"""k6's ``k6/execution`` module (a subset): who this VU is, where it is, and
``test.abort()``, which stops every actor of the cluster with k6's exit code 108.

``from veza_ray import execution`` then ``execution.vu.id_in_test``,
``execution.scenario.name``, ``execution.test.abort("why")``: read while a VU runs.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

from veza_ray.engine.context import vu_context

ABORT_PREFIX = "test.abort"


class TestAborted(Exception):
    """Raised by ``execution.test.abort()``: the runner stops this actor and tells the
    driver, which stops every other actor (k6's ScriptAborted, exit 108)."""

    __test__ = False  # not a pytest class

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _vu() -> Any:
    vu = vu_context.get()
    if vu is None:
        raise RuntimeError("k6/execution values exist only while a VU runs a flow function")
    return vu


class _VU:
    @property
    def id_in_test(self) -> int:
        """Unique across the cluster (the VU's place in the plan's execution segments)."""
        return int(_vu().id)

    @property
    def id_in_instance(self) -> int:
        """Unique inside this actor (k6's instance), from 1."""
        return int(_vu().id_in_instance)

    @property
    def iteration_in_scenario(self) -> int:
        return int(_vu().iteration)

    @property
    def iteration_in_instance(self) -> int:
        """This VU's iterations on this actor before this one (a veza-ray VU serves one
        scenario, so it equals iteration_in_scenario; in k6 a VU may serve several)."""
        return int(_vu().iteration)

    @property
    def id_in_scenario(self) -> int:
        """From 1 inside this scenario on this actor."""
        return int(_vu().slot) + 1

    @property
    def tags(self) -> dict[str, str]:
        return dict(_vu().tags)


class _Scenario:
    @property
    def name(self) -> str:
        return str(_vu().scenario)

    @property
    def iteration_in_instance(self) -> int:
        """Iterations of this scenario this actor had started before this one."""
        return int(_vu().scenario_iteration)

    @property
    def iteration_in_test(self) -> int:
        """Unique across the cluster, from 0: k6's striping of the execution segments
        (core/iteration_ids.py); gap-free for an iteration budget (shared-iterations)."""
        return int(_vu().iteration_in_test)

    @property
    def start_time(self) -> float:
        """When the scenario started, Unix milliseconds (k6's scenario.startTime)."""
        vu = _vu()
        run = vu.run
        return float((time.time() - (run.now() - run.t0)) * 1000.0)

    @property
    def progress(self) -> float:
        """0..1, as k6's progress bar for this actor: iterations done of its budget, or
        the time elapsed of the scenario's duration."""
        run = _vu().run
        planned = run.cfg.planned_iterations(run.seg)
        if run.cfg.has_iteration_budget and planned:
            return float(min(1.0, run.iterations / planned))
        duration = run.cfg.run_duration
        return float(min(1.0, max(0.0, run.now() - run.t0) / duration)) if duration > 0 else 1.0

    @property
    def executor(self) -> str:
        return str(_vu().run.cfg.executor)


class _Test:
    def abort(self, reason: str = "") -> NoReturn:
        """Stop the whole test now (every actor), exit code 108, ``reason`` in the summary."""
        raise TestAborted(str(reason))


class _Instance:
    """k6's exec.instance: this actor (k6's instance), all its scenarios together."""

    @property
    def iterations_completed(self) -> int:
        return int(_vu().run.runner.completed)

    @property
    def iterations_interrupted(self) -> int:
        return int(_vu().run.runner.interrupted)

    @property
    def vus_active(self) -> int:
        return sum(int(s.active) for s in _vu().run.runner.scenarios)

    @property
    def vus_initialized(self) -> int:
        return sum(int(s.allocated) for s in _vu().run.runner.scenarios)

    @property
    def current_test_run_duration(self) -> float:
        """Milliseconds since the test started (the plan's common start)."""
        runner = _vu().run.runner
        return float(max(0.0, runner.clock.now() - runner._start) * 1000.0)


class Execution:
    vu = _VU()
    scenario = _Scenario()
    instance = _Instance()
    test = _Test()


execution = Execution()
