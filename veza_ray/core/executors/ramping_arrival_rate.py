"""ramping-arrival-rate: the start rate follows stages (k6's ramping-arrival-rate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veza_ray.core.executors.arrival import ArrivalRate, run_arrivals
from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun
from veza_ray.core.schedule import ramping_arrival_count, ramping_arrival_offsets
from veza_ray.core.segment import Segment


class RampingArrivalRate(ArrivalRate):
    KEYS = frozenset({"startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"})

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        pool = cls.parse_pool(common["executor"], raw, where, c)
        return cls(
            **common,
            **pool,
            start_rate=float(c.integer(raw, "startRate", where, 0)),  # k6: a whole number
            stages=c.stages(raw, where),
        )

    @property
    def run_duration(self) -> float:
        return sum(s.duration for s in self.stages)

    def planned_count(self, seg: Segment) -> int:
        return ramping_arrival_count(
            int(self.start_rate), self.stages, self.time_unit, seg.iteration_stripe
        )

    def peak_iterations_per_s(self) -> float | None:
        return max([self.start_rate, *(st.target for st in self.stages)]) / self.time_unit


async def run(r: SegmentRun) -> None:
    """k6's schedule: global iteration g starts when the planned count (the area under the
    rate) reaches g + 1; this segment runs the g its stripe owns."""
    cfg, seg = r.cfg, r.seg
    if seg.max_vus == 0:
        return
    offsets = ramping_arrival_offsets(
        int(cfg.start_rate), cfg.stages, cfg.time_unit, seg.iteration_stripe
    )
    await run_arrivals(r, offsets, r.t0 + cfg.run_duration)
