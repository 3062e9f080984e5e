"""A mergeable latency digest: fastdigest's t-digest plus exact count, sum, min and max.

Why this shape: per-sample cost must be tens of nanoseconds, so values are appended to a
plain list by the caller and folded in with ``batch_update`` at flush time; merging must
be cheap on the driver, so digests travel as versioned dicts (fastdigest's ``to_bytes``
format changed between releases, its dict form did not). The centroid layout is the
``tdigest`` package's (``{"m": mean, "c": count}``) so other tools can read it.

Known weakness, shared by every t-digest: a quantile that falls in an empty gap between
two modes is interpolated into the gap (see docs/metrics.md and the bimodal tests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypedDict, cast

from fastdigest import TDigest

WIRE_VERSION = 1
DEFAULT_MAX_CENTROIDS = 1000
# An actor's per-second delta digest: 200 centroids keep p99.9 within 0.1 % once merged
# (bench/digest_merge.py) and cut what the driver parses each second about 5x.
DELTA_MAX_CENTROIDS = 200


class CentroidWire(TypedDict):
    m: float
    c: float


class DigestWire(TypedDict):
    """The dict a digest crosses Ray as; ``v`` lets a newer driver refuse an older actor."""

    v: int
    max_centroids: int
    count: int
    sum: float
    min: float
    max: float
    centroids: list[CentroidWire]


class Digest:
    """A t-digest with exact count/sum/min/max kept beside it (the digest's own are approximate)."""

    __slots__ = ("_td", "count", "max", "max_centroids", "min", "sum")

    def __init__(self, max_centroids: int = DEFAULT_MAX_CENTROIDS) -> None:
        self.max_centroids = max_centroids
        self._td: TDigest | None = None
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add_many(self, values: Sequence[float]) -> None:
        """Fold a batch of raw values in (the hot path appends to a list; this runs at flush)."""
        if not values:
            return
        if self._td is None:
            self._td = TDigest(max_centroids=self.max_centroids)
        self._td.batch_update(values)
        self.count += len(values)
        self.sum += math.fsum(values)
        lo, hi = min(values), max(values)
        if lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi

    def merge(self, other: Digest) -> None:
        """Add another digest's mass into this one, in place."""
        if other.count == 0:
            return
        if other._td is not None:
            if self._td is None:
                if other.max_centroids == self.max_centroids:
                    self._td = other._td.copy()
                else:  # keep this digest's own resolution, whatever the incoming one's
                    self._td = TDigest(max_centroids=self.max_centroids)
                    self._td.merge_inplace(other._td)
            else:
                self._td.merge_inplace(other._td)
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def copy(self) -> Digest:
        out = Digest(self.max_centroids)
        out.merge(self)
        return out

    @property
    def avg(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1), clamped to the exact min/max; 0 when empty, as k6 reports."""
        if self._td is None or self.count == 0:
            return 0.0
        if q <= 0:
            return self.min
        if q >= 1:
            return self.max
        value = float(self._td.quantile(q))
        return min(max(value, self.min), self.max)

    def cdf(self, x: float) -> float:
        """Fraction of mass at or below x (used by accuracy tests and reports)."""
        if self._td is None or self.count == 0:
            return 0.0
        return float(self._td.cdf(x))

    def centroids(self) -> list[tuple[float, float]]:
        """(mean, weight) pairs, for reports that draw the distribution."""
        if self._td is None:
            return []
        return [(float(c["m"]), float(c["c"])) for c in _centroids(self._td)]

    def to_wire(self) -> DigestWire:
        # fastdigest's dict already uses the {"m", "c"} centroid layout: ship it as it is.
        cents = cast(list[CentroidWire], _centroids(self._td)) if self._td is not None else []
        return {
            "v": WIRE_VERSION,
            "max_centroids": self.max_centroids,
            "count": self.count,
            "sum": self.sum,
            "min": self.min if self.count else 0.0,
            "max": self.max if self.count else 0.0,
            "centroids": cents,
        }

    @classmethod
    def from_wire(cls, wire: DigestWire) -> Digest:
        """Rebuild a digest; the centroid list goes to fastdigest untouched (the driver's
        merge cost is per centroid, so no Python work per centroid happens here)."""
        if wire.get("v") != WIRE_VERSION:
            raise ValueError(f"digest wire version {wire.get('v')!r} is not {WIRE_VERSION}")
        out = cls(int(wire["max_centroids"]))
        out.count = int(wire["count"])
        if out.count == 0:
            return out
        out.sum = float(wire["sum"])
        out.min = float(wire["min"])
        out.max = float(wire["max"])
        if wire["centroids"]:
            out._td = TDigest.from_dict(
                {
                    "max_centroids": out.max_centroids,
                    "mass": float(out.count),  # exact: every recorded value weighs 1
                    "sum": out.sum,
                    "min": out.min,
                    "max": out.max,
                    "n_values": out.count,
                    "centroids": wire["centroids"],
                }
            )
        return out


def _centroids(td: TDigest) -> list[dict[str, float]]:
    return cast(list[dict[str, float]], td.to_dict()["centroids"])


def merge_all(digests: Iterable[Digest], max_centroids: int = DEFAULT_MAX_CENTROIDS) -> Digest:
    """One digest holding the mass of all the given ones."""
    out = Digest(max_centroids)
    for d in digests:
        out.merge(d)
    return out
