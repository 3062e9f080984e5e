"""k6's ``exec.scenario.iterationInTest``: a number unique across the whole cluster.

k6 numbers an instance's iterations by striping: the instance's ``k``-th started iteration
of a scenario gets the ``k``-th index its execution segment owns (``SegmentedIndex``:
``scaled`` is the local count, ``unscaled`` the test-wide number). Which striping depends
on the executor, as in k6's ``Init``: shared-iterations re-cuts the sequence by its VUs,
the arrival-rate executors by their maxVUs (the stripe the plan already gives the
segment), every other executor uses the actor's own segment of the sequence.

So the numbers of all actors are disjoint by construction, with no coordination, and for
an iteration budget (shared-iterations) they fill 0..iterations-1 with no gap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veza_ray.core.segments import Stripe, split_sequence

if TYPE_CHECKING:
    from veza_ray.core.executors.base import ScenarioConfig
    from veza_ray.core.segment import Segment

RECUT_BY_VUS = frozenset({"shared-iterations"})


def iteration_stripe(sc: ScenarioConfig, seg: Segment) -> Stripe:
    """The stripe whose indices are this segment's iterationInTest numbers."""
    if sc.is_arrival_rate:
        return seg.iteration_stripe if seg.max_vus else Stripe(1, ())
    tuple_ = split_sequence(seg.count).at(seg.index)
    if sc.executor in RECUT_BY_VUS:
        recut = tuple_.new_from_value(sc.vus)
        return recut.stripe() if recut is not None else Stripe(1, ())
    return tuple_.stripe()


def iteration_in_test(stripe: Stripe, started_before: int) -> int:
    """iterationInTest of the iteration this actor starts after ``started_before`` others."""
    return stripe.nth(started_before)


def vu_offset(sc: ScenarioConfig, seg: Segment) -> int:
    """How many of the scenario's VUs the actors before this one hold: this actor's VUs
    are the scenario's cluster-wide VUs ``offset .. offset + max_vus - 1`` (from 0)."""
    sequence = split_sequence(seg.count)
    return sum(sequence.scale(j, sc.max_vus_needed) for j in range(seg.index))
