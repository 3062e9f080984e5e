"""The plan: each scenario's VUs, iterations and rate cut into one segment per actor.

The actors are the equal segments of one k6 execution-segment sequence (0, 1/n, ..., 1),
and every number is split with k6's arithmetic (segments.py), so the parts add up exactly
(1000 VUs over 3 actors is 334 + 333 + 333) and each actor does what the k6 instance with
its segment would do:

- constant-vus, ramping-vus, per-vu-iterations: VUs by striping; per-vu-iterations keeps
  the per-VU count, so an actor with no VU runs nothing.
- shared-iterations: iterations in proportion to each actor's VUs (k6 re-cuts the sequence
  by the VU count): 20 VUs, 50 iterations on 3 actors is 18/17/15, and an actor with no VU
  gets no iteration.
- arrival rates: preAllocatedVUs and maxVUs by striping; the iterations are dealt out by
  the sequence re-cut by maxVUs (a ``Stripe``), so 50/s with 20 maxVUs on 3 actors is
  18/17/15 a second, and an actor with no VU gets no part of the rate.

VU ids are handed out in disjoint ranges so ``vu.id`` is unique across the cluster, as
``__VU`` is in k6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypedDict

from veza_ray.options import ScenarioConfig
from veza_ray.schedule import constant_arrival_count, ramping_arrival_count, ramping_vus_changes
from veza_ray.segments import ExecutionTuple, Stripe, split_sequence

_NO_WORK = Stripe(1, ())


@dataclass(frozen=True)
class Segment:
    """One actor's share of one scenario.

    ``stripe_period``/``stripe`` say which global arrival-rate iterations are this actor's
    (index g is, iff g % period is in stripe); unused by the other executors.
    """

    scenario: str
    index: int
    count: int
    vus: int
    max_vus: int
    iterations: int
    vu_id_base: int
    stripe_period: int = 1
    stripe: tuple[int, ...] = (0,)

    @property
    def iteration_stripe(self) -> Stripe:
        return Stripe(self.stripe_period, self.stripe)

    def to_wire(self) -> SegmentWire:
        w = asdict(self)
        w["stripe"] = list(self.stripe)
        return w  # type: ignore[return-value]

    @classmethod
    def from_wire(cls, w: SegmentWire) -> Segment:
        fields = dict(w)
        fields["stripe"] = tuple(w["stripe"])
        return cls(**fields)  # type: ignore[arg-type]


class SegmentWire(TypedDict):
    scenario: str
    index: int
    count: int
    vus: int
    max_vus: int
    iterations: int
    vu_id_base: int
    stripe_period: int
    stripe: list[int]


def segment_for(sc: ScenarioConfig, index: int, count: int, vu_id_base: int) -> Segment:
    """Actor ``index`` of ``count``'s share of scenario ``sc``."""
    return _segment(sc, split_sequence(count).at(index), vu_id_base)


def _segment(sc: ScenarioConfig, et: ExecutionTuple, vu_id_base: int) -> Segment:
    index, count = et.index, len(et.sequence)
    if sc.is_arrival_rate:
        pre = et.scale(sc.pre_allocated_vus)
        max_vus = et.scale(sc.max_vus_needed)
        by_vus = et.new_from_value(sc.max_vus_needed)
        if max_vus == 0 or by_vus is None:
            return Segment(sc.name, index, count, pre, max_vus, 0, vu_id_base, 1, ())
        stripe = by_vus.stripe()
        return Segment(
            sc.name, index, count, pre, max_vus, 0, vu_id_base, stripe.period, stripe.residues
        )
    vus = et.scale(sc.max_vus_needed)
    iterations = sc.iterations
    if sc.executor == "shared-iterations":
        by_vus = et.new_from_value(sc.vus)
        iterations = by_vus.scale(sc.iterations) if by_vus is not None and vus else 0
    elif sc.executor == "per-vu-iterations" and vus == 0:
        iterations = 0
    return Segment(sc.name, index, count, vus, vus, iterations, vu_id_base)


def make_plan(scenarios: Sequence[ScenarioConfig], actors: int) -> list[list[Segment]]:
    """Segments per actor (outer list: actors), VU ids numbered scenario by scenario."""
    sequence = split_sequence(actors)
    plan: list[list[Segment]] = [[] for _ in range(actors)]
    next_id = 1
    for sc in scenarios:
        for i in range(actors):
            seg = _segment(sc, sequence.at(i), next_id)
            next_id += seg.max_vus
            plan[i].append(seg)
    return plan


def planned_iterations(sc: ScenarioConfig, seg: Segment) -> int | None:
    """Iterations the segment plans to start; None where time, not a count, decides."""
    if sc.executor == "shared-iterations":
        return seg.iterations
    if sc.executor == "per-vu-iterations":
        return seg.vus * seg.iterations
    if seg.max_vus == 0 and sc.is_arrival_rate:
        return 0
    if sc.executor == "constant-arrival-rate":
        return constant_arrival_count(int(sc.rate), sc.time_unit, sc.duration, seg.iteration_stripe)
    if sc.executor == "ramping-arrival-rate":
        return ramping_arrival_count(
            int(sc.start_rate), sc.stages, sc.time_unit, seg.iteration_stripe
        )
    return None


def planned_vu_seconds(sc: ScenarioConfig, seg: Segment) -> float:
    """VU-seconds an actor's segment plans to deliver (used to measure what a loss cost)."""
    if sc.executor == "constant-vus":
        return seg.vus * sc.duration
    if sc.executor == "ramping-vus":
        et = split_sequence(seg.count).at(seg.index)
        changes = ramping_vus_changes(sc.start_vus, sc.stages)
        end = sum(s.duration for s in sc.stages)
        total = 0.0
        for (t, v), nxt in zip(changes, [*changes[1:], (end, 0)], strict=True):
            total += et.scale(v) * max(0.0, min(nxt[0], end) - t)
        return total
    return seg.vus * sc.run_duration
