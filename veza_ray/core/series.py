"""The per-interval series, bounded: recent intervals at full resolution, older ones
compacted by merging adjacent intervals' digests and counters, never their percentiles.

Why: a point per scenario per second grows without end (a 12-hour soak: 43,200 points,
~27 MB in the summary). Here the series holds at most ``MAX_POINTS`` points whatever the
run's length: the last ``RECENT_POINTS`` intervals as they were measured, and before them
at most ``OLD_POINTS`` buckets of equal width (a power of two intervals). When the old
part is full its width doubles and neighbouring buckets are merged in pairs. A bucket's
p95 is the p95 of the merge of its intervals' digests, its rps its requests over its span,
its error rate its failed requests over its requests, its vus the highest of its intervals.

Each point is the dict the reports and outputs read (``t``, ``span_s``, ``n``,
``scenarios`` and ``all``, each ``{reqs, rps, p95, p99, error_rate, vus}``); the digests
and counts behind it stay here, at ``BUCKET_CENTROIDS`` each, so memory is bounded too:
``MAX_POINTS x (scenarios + 1)`` digests of at most ``BUCKET_CENTROIDS`` centroids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veza_ray.core.digest import Digest

RECENT_POINTS = 360  # the last 6 minutes at one interval a second
OLD_POINTS = 360
MAX_POINTS = RECENT_POINTS + OLD_POINTS
BUCKET_CENTROIDS = 200  # the actors' delta resolution: p99.9 within ~0.2 % once merged
ALL = "all"  # the key of every request, whatever its scenario


@dataclass
class ScopeCounts:
    """One scope's (a scenario's, or all requests') numbers for one point."""

    digest: Digest = field(default_factory=lambda: Digest(BUCKET_CENTROIDS))
    reqs: float = 0.0
    failed: float = 0.0  # requests counted in http_req_failed
    judged: float = 0.0  # requests http_req_failed judged (its total)
    vus: float = 0.0

    def absorb(self, other: ScopeCounts) -> None:
        self.digest.merge(other.digest)
        self.reqs += other.reqs
        self.failed += other.failed
        self.judged += other.judged
        self.vus = max(self.vus, other.vus)

    def point(self, span_s: float) -> dict[str, float]:
        return {
            "reqs": self.reqs,
            "rps": self.reqs / span_s if span_s > 0 else 0.0,
            "p95": self.digest.quantile(0.95),
            "p99": self.digest.quantile(0.99),
            "error_rate": self.failed / self.judged if self.judged else 0.0,
            "vus": self.vus,
        }


@dataclass
class Bucket:
    """One point: ``n`` intervals ending at ``t`` seconds into the run, ``span_s`` long."""

    t: float
    span_s: float
    n: int
    scopes: dict[str, ScopeCounts]
    view: dict[str, Any] = field(default_factory=dict)

    def absorb(self, later: Bucket) -> None:
        """Merge the next bucket in: digests merged, counts added, a new view dict (an
        output may still hold the old one)."""
        for name, counts in later.scopes.items():
            mine = self.scopes.setdefault(name, ScopeCounts())
            mine.absorb(counts)
        self.t = later.t
        self.span_s += later.span_s
        self.n += later.n
        self.view = {}

    def render(self) -> dict[str, Any]:
        if not self.view:
            self.view = {
                "t": round(self.t, 3),
                "span_s": round(self.span_s, 3),
                "n": self.n,
                "scenarios": {k: v.point(self.span_s) for k, v in self.scopes.items() if k != ALL},
            }
            if ALL in self.scopes:
                self.view[ALL] = self.scopes[ALL].point(self.span_s)
        return self.view


def _compact(d: Digest) -> Digest:
    """The digest at ``BUCKET_CENTROIDS`` (a copy when it holds more)."""
    if d.max_centroids == BUCKET_CENTROIDS:
        return d
    out = Digest(BUCKET_CENTROIDS)
    out.merge(d)
    return out


class IntervalSeries:
    """The bounded series; ``add`` once per driver round, ``points()`` for the summary."""

    def __init__(self, recent: int = RECENT_POINTS, old: int = OLD_POINTS) -> None:
        self.recent_max = recent
        self.old_max = old
        self.recent: list[Bucket] = []
        self.old: list[Bucket] = []
        self.width = 1  # intervals per old bucket

    def add(self, t: float, span_s: float, scopes: Mapping[str, ScopeCounts]) -> dict[str, Any]:
        """Record one interval; returns its point (what the live outputs read)."""
        fresh = {
            k: ScopeCounts(_compact(v.digest), v.reqs, v.failed, v.judged, v.vus)
            for k, v in scopes.items()
        }
        bucket = Bucket(t, span_s, 1, fresh)
        view = bucket.render()
        # The view keeps the full-resolution p95/p99 of the interval as measured.
        view.update(_full_view(t, span_s, scopes))
        self.recent.append(bucket)
        if len(self.recent) > self.recent_max:
            self._age(self.recent.pop(0))
        return view

    def _age(self, bucket: Bucket) -> None:
        if self.old and self.old[-1].n < self.width:
            self.old[-1].absorb(bucket)
        else:
            self.old.append(bucket)
        if len(self.old) > self.old_max:
            self.width *= 2
            merged: list[Bucket] = []
            for i in range(0, len(self.old), 2):
                first = self.old[i]
                if i + 1 < len(self.old):
                    first.absorb(self.old[i + 1])
                merged.append(first)
            self.old = merged

    def __len__(self) -> int:
        return len(self.old) + len(self.recent)

    def points(self) -> list[dict[str, Any]]:
        return [b.render() for b in (*self.old, *self.recent)]

    def buckets(self) -> list[Bucket]:
        return [*self.old, *self.recent]


def _full_view(t: float, span_s: float, scopes: Mapping[str, ScopeCounts]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "t": round(t, 3),
        "span_s": round(span_s, 3),
        "n": 1,
        "scenarios": {k: v.point(span_s) for k, v in scopes.items() if k != ALL},
    }
    if ALL in scopes:
        view[ALL] = scopes[ALL].point(span_s)
    return view
