"""What the two iteration-budget executors share: their options (vus, iterations,
maxDuration), their span (maxDuration is only an upper bound) and their VU count.

Closed model, as in k6: a fixed set of VUs runs until the iterations are done or
maxDuration is up; iterations not run when the run is stopped early are undelivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veza_ray.core.executors.base import Reader, ScenarioConfig


class IterationBudget(ScenarioConfig):
    """The part of shared- and per-vu-iterations that reads and sizes the same way."""

    KEYS = frozenset({"vus", "iterations", "maxDuration"})
    has_iteration_budget = True

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        vus = c.integer(raw, "vus", where, 1, 1)
        iters = c.integer(raw, "iterations", where, 1, 1)
        cls.check_budget(vus, iters, where, c)
        max_dur = c.duration(raw, "maxDuration", where, 600.0)
        if max_dur <= 0:
            c.fail(f"{where}.maxDuration", "must be above 0")
        return cls(**common, vus=vus, iterations=iters, max_duration=max_dur)

    @classmethod
    def check_budget(cls, vus: int, iterations: int, where: str, c: Reader) -> None:
        """An executor's own rule on vus and iterations (none by default)."""

    @property
    def max_vus_needed(self) -> int:
        return self.vus

    @property
    def run_duration(self) -> float:
        return self.max_duration
