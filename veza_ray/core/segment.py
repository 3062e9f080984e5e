"""One actor's share of one scenario (``Segment``) and its wire form (``SegmentWire``).

Its own module so that the plan (which cuts scenarios into Segments) and the executors
(which build and run them) both import it and not each other. ``SegmentWire``, its wire
form, is generated from the dataclass (``asdict``), so the fields are declared once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from veza_ray.core.segments import Stripe

SegmentWire = dict[str, Any]
"""A Segment as plain data: ``dataclasses.asdict`` of it with the stripe as a list. Its
keys are the dataclass's fields, declared once (below); ``from_wire`` refuses any other."""


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
        return w

    @classmethod
    def from_wire(cls, w: SegmentWire) -> Segment:
        names = {f.name for f in fields(cls)}
        if set(w) != names:
            raise ValueError(f"a segment has the fields {sorted(names)}, got {sorted(w)}")
        return cls(**{**w, "stripe": tuple(w["stripe"])})
