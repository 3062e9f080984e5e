"""One actor's share of one scenario (``Segment``) and its wire form (``SegmentWire``).

Its own module so that the plan (which cuts scenarios into Segments) and the executors
(which build and run them) both import it and not each other. ``SegmentWire`` is the
dataclass's fields as JSON types; tests/unit/test_plan.py holds the two to the same
fields, and ``to_wire``/``from_wire`` are derived from the fields, not listed by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypedDict

from veza_ray.core.segments import Stripe


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
