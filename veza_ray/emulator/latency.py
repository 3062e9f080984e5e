"""Per-endpoint added latency: named lognormal profiles drawn from a seeded RNG.

A lognormal with a cap is the usual shape of service latency (a tight body, a long right
tail); the cap keeps one unlucky draw from stalling a short test.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class LatencyProfile:
    """Lognormal latency: ``median_ms`` and ``sigma`` of the log, capped at ``cap_ms``.

    ``route_scale`` multiplies the draw per route name, so that a search or an order costs
    more than a health probe, as on a real backend.
    """

    median_ms: float
    sigma: float
    cap_ms: float
    route_scale: Mapping[str, float] = field(default_factory=dict)


_ROUTE_SCALE: Mapping[str, float] = MappingProxyType(
    {
        "search": 1.5,
        "track_list": 1.2,
        "upload_initiate": 1.5,
        "upload_chunk": 2.0,
        "order_create": 2.0,
        "product_list": 1.2,
    }
)

PROFILES: Mapping[str, LatencyProfile | None] = MappingProxyType(
    {
        # No added delay: throughput benchmarks measure the load tester, not the sleep.
        "none": None,
        # A healthy service a few ms away: median 3 ms, p99 ~5 ms (x route scale).
        "fast": LatencyProfile(median_ms=3.0, sigma=0.25, cap_ms=50.0, route_scale=_ROUTE_SCALE),
        # A service whose own latency dominates the load tester's jitter: median 40 ms,
        # p99 ~57 ms (x route scale). For regression tests and demos of compare: a route
        # made 30 % slower stands out of a busy machine's noise (docs/history.md).
        "steady": LatencyProfile(
            median_ms=40.0, sigma=0.15, cap_ms=400.0, route_scale=_ROUTE_SCALE
        ),
        # A loaded service: median 15 ms, p99 ~150 ms, capped at 2 s (x route scale).
        "heavy": LatencyProfile(median_ms=15.0, sigma=1.0, cap_ms=2000.0, route_scale=_ROUTE_SCALE),
    }
)


class LatencySampler:
    """Draws delays in seconds for a profile; ``None`` profile always returns 0.

    Draws come from one seeded RNG in request order, so a run is reproducible only as far
    as the order in which concurrent requests arrive is.
    """

    def __init__(self, profile: LatencyProfile | None, seed: int) -> None:
        self._profile = profile
        self._rng = random.Random(f"latency-{seed}")
        self._mu = math.log(profile.median_ms) if profile is not None else 0.0

    @property
    def enabled(self) -> bool:
        return self._profile is not None

    def draw(self, route: str) -> float:
        profile = self._profile
        if profile is None:
            return 0.0
        ms = self._rng.lognormvariate(self._mu, profile.sigma)
        ms *= profile.route_scale.get(route, 1.0)
        return min(ms, profile.cap_ms) / 1000.0
