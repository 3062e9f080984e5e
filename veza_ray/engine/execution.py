"""k6's ``k6/execution`` module (a subset): who this VU is, where it is, and
``test.abort()``, which stops every actor of the cluster with k6's exit code 108.

``from veza_ray import execution`` then ``execution.vu.id_in_test``,
``execution.scenario.name``, ``execution.test.abort("why")``: read while a VU runs.
"""

from __future__ import annotations

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
        return int(_vu().iteration)

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
        return int(_vu().run.iterations)

    @property
    def executor(self) -> str:
        return str(_vu().run.cfg.executor)


class _Test:
    def abort(self, reason: str = "") -> NoReturn:
        """Stop the whole test now (every actor), exit code 108, ``reason`` in the summary."""
        raise TestAborted(str(reason))


class Execution:
    vu = _VU()
    scenario = _Scenario()
    test = _Test()


execution = Execution()
