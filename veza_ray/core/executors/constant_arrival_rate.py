"""constant-arrival-rate: iterations start at a fixed rate (k6's constant-arrival-rate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veza_ray.core.executors.arrival import ArrivalRate, run_arrivals
from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun
from veza_ray.core.schedule import constant_arrival_count, constant_arrival_offsets
from veza_ray.core.segment import Segment


class ConstantArrivalRate(ArrivalRate):
    KEYS = frozenset({"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"})

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        pool = cls.parse_pool(common["executor"], raw, where, c)
        if "rate" not in raw:
            c.fail(f"{where}.rate", "is required by the constant-arrival-rate executor")
        rate = float(c.integer(raw, "rate", where, 0))  # k6's rate is a whole number
        if "rate" in raw and rate <= 0:
            c.fail(f"{where}.rate", "must be above 0")
        dur = c.duration(raw, "duration", where, 0.0)
        if dur <= 0:
            c.fail(f"{where}.duration", "constant-arrival-rate needs a duration above 0")
        return cls(**common, **pool, rate=rate, start_rate=rate, duration=dur)

    @property
    def run_duration(self) -> float:
        return self.duration

    def planned_count(self, seg: Segment) -> int:
        return constant_arrival_count(
            int(self.rate), self.time_unit, self.duration, seg.iteration_stripe
        )

    def peak_iterations_per_s(self) -> float | None:
        return self.rate / self.time_unit


async def run(r: SegmentRun) -> None:
    """k6's schedule: global iteration g starts at g * period; this segment runs the g its
    stripe owns. A segment with no VU has no part of the rate."""
    cfg, seg = r.cfg, r.seg
    if seg.max_vus == 0:
        return
    offsets = constant_arrival_offsets(
        int(cfg.rate), cfg.time_unit, cfg.duration, seg.iteration_stripe
    )
    await run_arrivals(r, offsets, r.t0 + cfg.run_duration)
