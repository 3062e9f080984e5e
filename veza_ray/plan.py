"""The plan: each scenario's VUs, iterations and rate cut into one segment per actor.

Pure math on top of schedule.segment_share: the parts add up exactly (1000 VUs over 3
actors is 334 + 333 + 333), and VU ids are handed out in disjoint ranges so ``vu.id`` is
unique across the whole cluster, as ``__VU`` is in k6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypedDict, cast

from veza_ray.options import ScenarioConfig
from veza_ray.schedule import segment_share


@dataclass(frozen=True)
class Segment:
    """One actor's share of one scenario."""

    scenario: str
    index: int
    count: int
    vus: int
    max_vus: int
    iterations: int
    vu_id_base: int

    def to_wire(self) -> SegmentWire:
        return cast(SegmentWire, asdict(self))

    @classmethod
    def from_wire(cls, w: SegmentWire) -> Segment:
        return cls(**w)


class SegmentWire(TypedDict):
    scenario: str
    index: int
    count: int
    vus: int
    max_vus: int
    iterations: int
    vu_id_base: int


def segment_for(sc: ScenarioConfig, index: int, count: int, vu_id_base: int) -> Segment:
    """Actor ``index`` of ``count``'s share of scenario ``sc``."""
    if sc.is_arrival_rate:
        vus = segment_share(sc.pre_allocated_vus, index, count)
        max_vus = segment_share(sc.max_vus_needed, index, count)
        # An actor that owns part of the rate needs at least one VU to run it.
        if max_vus == 0:
            max_vus = 1
        return Segment(sc.name, index, count, vus, max_vus, 0, vu_id_base)
    vus = segment_share(sc.max_vus_needed, index, count)
    iterations = sc.iterations
    if sc.executor == "shared-iterations":
        iterations = segment_share(sc.iterations, index, count)
        vus = min(vus, iterations)
    return Segment(sc.name, index, count, vus, vus, iterations, vu_id_base)


def make_plan(scenarios: Sequence[ScenarioConfig], actors: int) -> list[list[Segment]]:
    """Segments per actor (outer list: actors), VU ids numbered scenario by scenario."""
    plan: list[list[Segment]] = [[] for _ in range(actors)]
    next_id = 1
    for sc in scenarios:
        for i in range(actors):
            seg = segment_for(sc, i, actors, next_id)
            next_id += seg.max_vus
            plan[i].append(seg)
    return plan


def planned_vu_seconds(sc: ScenarioConfig, seg: Segment) -> float:
    """VU-seconds an actor's segment plans to deliver (used to measure what a loss cost)."""
    if sc.executor == "constant-vus":
        return seg.vus * sc.duration
    if sc.executor == "ramping-vus":
        from veza_ray.schedule import ramping_vus_changes

        changes = ramping_vus_changes(sc.start_vus, sc.stages)
        end = sum(s.duration for s in sc.stages)
        total = 0.0
        for (t, v), nxt in zip(changes, [*changes[1:], (end, 0)], strict=True):
            total += segment_share(v, seg.index, seg.count) * max(0.0, min(nxt[0], end) - t)
        return total
    if sc.is_arrival_rate:
        return seg.vus * sc.run_duration
    return seg.vus * sc.run_duration
