"""per-vu-iterations: each VU runs the same number of iterations (k6's per-vu-iterations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun, vu_segment
from veza_ray.core.plan import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class PerVUIterations(ScenarioConfig):
    KEYS = frozenset({"vus", "iterations", "maxDuration"})
    has_iteration_budget = True

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        vus = c.integer(raw, "vus", where, 1, 1)
        iters = c.integer(raw, "iterations", where, 1, 1)
        max_dur = c.duration(raw, "maxDuration", where, 600.0)
        if max_dur <= 0:
            c.fail(f"{where}.maxDuration", "must be above 0")
        return cls(**common, vus=vus, iterations=iters, max_duration=max_dur)

    @property
    def max_vus_needed(self) -> int:
        return self.vus

    @property
    def run_duration(self) -> float:
        return self.max_duration

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        """VUs by striping, each keeping the per-VU count: no VU, no iteration."""
        return vu_segment(self, et, vu_id_base, self.iterations if et.scale(self.vus) else 0)

    def planned_iterations(self, seg: Segment) -> int | None:
        return seg.vus * seg.iterations

    def iterations_left(self, seg: Segment, done: int) -> int:
        return max(0, seg.iterations * seg.vus - done)

    @classmethod
    def resume(cls, seg: Segment, done: int) -> Segment:
        if not seg.vus:
            return seg
        return replace(seg, iterations=max(0, seg.iterations - done // seg.vus))


async def run(r: SegmentRun) -> None:
    """Each VU runs its count, within maxDuration; a stop leaves the rest undelivered."""
    per_vu = r.seg.iterations
    await r.run_vus(r.seg.vus, lambda vu, n: n < per_vu, r.t0 + r.cfg.max_duration)
    if r.stopping:
        r.undelivered += max(0, per_vu * r.seg.vus - r.iterations)
