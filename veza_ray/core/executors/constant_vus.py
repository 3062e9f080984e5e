"""constant-vus: a fixed number of VUs loop for a duration (k6's constant-vus)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun, vu_segment
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class ConstantVUs(ScenarioConfig):
    KEYS = frozenset({"vus", "duration"})

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        dur = c.duration(raw, "duration", where, 0.0)
        if "duration" not in raw or dur <= 0:
            c.fail(f"{where}.duration", "constant-vus needs a duration above 0")
        return cls(**common, vus=c.integer(raw, "vus", where, 1, 1), duration=dur)

    @property
    def max_vus_needed(self) -> int:
        return self.vus

    @property
    def run_duration(self) -> float:
        return self.duration

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        return vu_segment(self, et, vu_id_base, self.iterations)

    def planned_vu_seconds(self, seg: Segment) -> float:
        return seg.vus * self.duration


async def run(r: SegmentRun) -> None:
    """Every VU of the segment loops until the duration is over."""
    await r.run_vus(r.seg.vus, lambda vu, n: True, r.t0 + r.cfg.duration)
