"""shared-iterations: VUs share one pool of iterations (k6's shared-iterations)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from veza_ray.core.executors.base import Reader, SegmentRun, vu_segment
from veza_ray.core.executors.iterations import IterationBudget
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class SharedIterations(IterationBudget):
    @classmethod
    def check_budget(cls, vus: int, iterations: int, where: str, c: Reader) -> None:
        if iterations < vus:
            c.fail(
                f"{where}.iterations",
                f"the number of iterations ({iterations}) can't be less than the number of "
                f"VUs ({vus})",
            )

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        """Iterations in proportion to the segment's VUs: k6 re-cuts the sequence by the VU
        count (20 VUs, 50 iterations on 3 actors is 18/17/15); no VU, no iteration."""
        by_vus = et.new_from_value(self.vus)
        vus = et.scale(self.vus)
        iterations = by_vus.scale(self.iterations) if by_vus is not None and vus else 0
        return vu_segment(self, et, vu_id_base, iterations)

    def planned_iterations(self, seg: Segment) -> int | None:
        return seg.iterations

    def iterations_left(self, seg: Segment, done: int) -> int:
        return max(0, seg.iterations - done)

    @classmethod
    def resume(cls, seg: Segment, done: int) -> Segment:
        return replace(seg, iterations=max(0, seg.iterations - done))


async def run(r: SegmentRun) -> None:
    """The segment's VUs take iterations from one pool until it is empty or time is up."""
    left = [r.seg.iterations]

    def take(vu: object, n: int) -> bool:
        if left[0] <= 0:
            return False
        left[0] -= 1
        return True

    await r.run_vus(r.seg.vus, take, r.t0 + r.cfg.max_duration)
    if r.stopping:
        r.undelivered += max(0, left[0])
