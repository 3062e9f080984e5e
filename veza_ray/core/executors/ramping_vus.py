"""ramping-vus: the VU count follows stages (k6's ramping-vus)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from veza_ray.core.executors.base import Reader, ScenarioConfig, SegmentRun, TaskHandle, vu_segment
from veza_ray.core.schedule import ramping_vus_segment_changes
from veza_ray.core.segment import Segment

if TYPE_CHECKING:
    from veza_ray.core.segments import ExecutionTuple


class RampingVUs(ScenarioConfig):
    KEYS = frozenset({"startVUs", "stages", "gracefulRampDown"})

    @classmethod
    def parse(
        cls, common: dict[str, Any], raw: Mapping[str, Any], where: str, c: Reader
    ) -> ScenarioConfig:
        start_vus = c.integer(raw, "startVUs", where, 1)
        stages = c.stages(raw, where)
        if stages and max(start_vus, *(s.target for s in stages)) <= 0:
            c.fail(
                where,
                "either startVUs or one of the stages' target values must be greater than 0",
            )
        return cls(
            **common,
            start_vus=start_vus,
            stages=stages,
            graceful_ramp_down=c.duration(raw, "gracefulRampDown", where, 30.0),
        )

    @property
    def max_vus_needed(self) -> int:
        return max([self.start_vus, *(s.target for s in self.stages)])

    @property
    def run_duration(self) -> float:
        return sum(s.duration for s in self.stages)

    def segment(self, et: ExecutionTuple, vu_id_base: int) -> Segment:
        return vu_segment(self, et, vu_id_base, self.iterations)

    def planned_vu_seconds(self, seg: Segment) -> float:
        """The area under the segment's own share of the VU timeline (what ``run`` follows)."""
        changes = ramping_vus_segment_changes(self.start_vus, self.stages, seg.index, seg.count)
        end = sum(s.duration for s in self.stages)
        total = 0.0
        for (t, v), nxt in zip(changes, [*changes[1:], (end, 0)], strict=True):
            total += v * max(0.0, min(nxt[0], end) - t)
        return total


def _cancel_if_retired(task: TaskHandle, vu: Any, target: list[int]) -> None:
    """gracefulRampDown is over: a VU above the target still busy is interrupted."""
    if vu.slot >= target[0] and not task.done():
        task.cancel()


async def run(r: SegmentRun) -> None:
    """Follow the segment's share of the VU timeline: start VUs as it rises; as it falls,
    let retired VUs finish their iteration within gracefulRampDown, then interrupt them."""
    cfg, seg = r.cfg, r.seg
    end = r.t0 + sum(st.duration for st in cfg.stages)
    target = [0]
    vus: list[Any] = []
    running: dict[int, TaskHandle] = {}
    for t, mine in ramping_vus_segment_changes(cfg.start_vus, cfg.stages, seg.index, seg.count):
        await r.sleep_until(r.t0 + t)
        if r.stopping or r.now() >= end:
            break
        target[0] = mine
        while len(vus) < mine:
            vus.append(r.new_vu(len(vus)))
        for vu in vus[:mine]:
            task = running.get(vu.slot)
            if task is None or task.done():
                running[vu.slot] = r.spawn(
                    r.vu_loop(vu, lambda v, n: True, end, lambda v: v.slot < target[0])
                )
        for vu in vus[mine:]:
            task = running.get(vu.slot)
            if task is not None and not task.done():
                r.call_later(cfg.graceful_ramp_down, _cancel_if_retired, task, vu, target)
    await r.finish(end)
