"""The plan: each scenario's VUs, iterations and rate cut into one segment per actor.

The actors are the equal segments of one k6 execution-segment sequence (0, 1/n, ..., 1),
and every number is split with k6's arithmetic (segments.py), so the parts add up exactly
(1000 VUs over 3 actors is 334 + 333 + 333) and each actor does what the k6 instance with
its segment would do. Each executor's config says how its numbers split
(``ScenarioConfig.segment`` in veza_ray/core/executors/): VUs by striping; shared-iterations'
iterations in proportion to each actor's VUs (20 VUs, 50 iterations on 3 actors is
18/17/15); arrival rates' iterations by a ``Stripe`` of the sequence re-cut by maxVUs.

VU ids are handed out in disjoint ranges so ``vu.id`` is unique across the cluster, as
``__VU`` is in k6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from veza_ray.core.segment import Segment, SegmentWire
from veza_ray.core.segments import split_sequence

if TYPE_CHECKING:  # typing only: the executors build Segments (core/segment.py)
    from veza_ray.core.executors.base import ScenarioConfig


__all__ = [
    "Segment",
    "SegmentWire",
    "make_plan",
    "planned_iterations",
    "planned_vu_seconds",
    "segment_for",
]


def segment_for(sc: ScenarioConfig, index: int, count: int, vu_id_base: int) -> Segment:
    """Actor ``index`` of ``count``'s share of scenario ``sc``."""
    return sc.segment(split_sequence(count).at(index), vu_id_base)


def make_plan(scenarios: Sequence[ScenarioConfig], actors: int) -> list[list[Segment]]:
    """Segments per actor (outer list: actors), VU ids numbered scenario by scenario."""
    sequence = split_sequence(actors)
    plan: list[list[Segment]] = [[] for _ in range(actors)]
    next_id = 1
    for sc in scenarios:
        for i in range(actors):
            seg = sc.segment(sequence.at(i), next_id)
            next_id += seg.max_vus
            plan[i].append(seg)
    return plan


def planned_iterations(sc: ScenarioConfig, seg: Segment) -> int | None:
    """Iterations the segment plans to start; None where time, not a count, decides."""
    return sc.planned_iterations(seg)


def planned_vu_seconds(sc: ScenarioConfig, seg: Segment) -> float:
    """VU-seconds an actor's segment plans to deliver (used to measure what a loss cost)."""
    return sc.planned_vu_seconds(seg)
