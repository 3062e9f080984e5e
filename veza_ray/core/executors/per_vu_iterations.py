"""per-vu-iterations: each VU runs the same number of iterations (k6's per-vu-iterations)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from veza_ray.core.executors.base import SegmentRun, vu_segment
from veza_ray.core.executors.iterations import IterationBudget
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class PerVUIterations(IterationBudget):
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
