"""What the two arrival-rate executors share: their VU pool options, their split by
stripes, and the loop that starts each planned iteration on a free VU.

Open model, as in k6: iterations start on the schedule whether or not the previous ones
finished; a start with no free VU (maxVUs all busy) is dropped and counted.
"""

from __future__ import annotations

import collections
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class ArrivalRate(ScenarioConfig):
    """The part of an arrival-rate config that does not depend on the rate's shape."""

    is_arrival_rate = True

    @staticmethod
    def parse_pool(executor: str, raw: Mapping[str, Any], where: str, c: Reader) -> dict[str, Any]:
        """timeUnit, preAllocatedVUs (required, as in k6) and maxVUs (defaults to it)."""
        time_unit = c.duration(raw, "timeUnit", where, 1.0)
        if time_unit <= 0:
            c.fail(f"{where}.timeUnit", "must be above 0")
            time_unit = 1.0
        if "preAllocatedVUs" not in raw:
            c.fail(f"{where}.preAllocatedVUs", f"is required by the {executor} executor")
        pre = c.integer(raw, "preAllocatedVUs", where, 1)
        max_vus = c.integer(raw, "maxVUs", where, pre)
        if max_vus < pre:
            c.fail(f"{where}.maxVUs", f"({max_vus}) can't be less than preAllocatedVUs ({pre})")
        if max_vus < 1:
            c.fail(f"{where}.maxVUs", "needs at least one VU (preAllocatedVUs or maxVUs)")
        return {"time_unit": time_unit, "pre_allocated_vus": pre, "max_vus": max_vus}

    @property
    def max_vus_needed(self) -> int:
        return max(self.max_vus, self.pre_allocated_vus)

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        """preAllocatedVUs and maxVUs by striping; the iterations are dealt out by the
        sequence re-cut by maxVUs (a ``Stripe``): 50/s with 20 maxVUs on 3 actors is
        18/17/15 a second, and a segment with no VU gets no part of the rate."""
        index, count = et.index, len(et.sequence)
        pre = et.scale(self.pre_allocated_vus)
        max_vus = et.scale(self.max_vus_needed)
        by_vus = et.new_from_value(self.max_vus_needed)
        if max_vus == 0 or by_vus is None:
            return Segment(self.name, index, count, pre, max_vus, 0, vu_id_base, 1, ())
        stripe = by_vus.stripe()
        return Segment(
            self.name, index, count, pre, max_vus, 0, vu_id_base, stripe.period, stripe.residues
        )

    def planned_iterations(self, seg: Segment) -> int | None:
        return self.planned_count(seg) if seg.max_vus else 0

    @abstractmethod
    def planned_count(self, seg: Segment) -> int:
        """How many iterations the schedule starts in the segment's stripe."""


async def run_arrivals(r: SegmentRun, offsets: Iterator[float], end: float) -> None:
    """Start an iteration at ``r.t0 + offset`` for each offset, on a free VU (allocating
    up to the segment's maxVUs); wait for the end, then for those in flight."""
    seg = r.seg
    idle: collections.deque[Any] = collections.deque(r.new_vu(i) for i in range(seg.vus))

    async def one(vu: Any) -> None:
        r.active += 1
        try:
            await r.iteration(vu)
        finally:
            r.active -= 1
            idle.append(vu)

    starts = iter(offsets)
    for off in starts:
        at = r.t0 + off
        # A replacement starts on the original timeline, already under way: it skips the
        # iterations whose time has passed instead of bursting.
        if r.late and at < r.now() - 0.5:
            continue
        if r.now() < at:
            await r.sleep_until(at)
        if r.stopping:
            # This one and every later planned start will not happen.
            r.undelivered += 1 + sum(1 for _ in starts)
            break
        if idle:
            vu = idle.popleft()
        elif r.allocated < seg.max_vus:
            vu = r.new_vu(r.allocated)
        else:
            r.drop()
            continue
        r.spawn(one(vu))
    await r.finish(end)
