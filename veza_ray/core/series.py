"""The per-interval series, bounded: recent intervals at full resolution, older ones
compacted by merging adjacent intervals' digests and counters, never their percentiles.

Why: a point per scenario per second grows without end (a 12-hour soak: 43,200 points,
~27 MB in the summary). Here the series holds at most ``MAX_POINTS`` points whatever the
run's length: the last ``RECENT_POINTS`` intervals as they were measured, and before them
at most ``OLD_POINTS`` buckets of equal width (a power of two intervals) and one bucket
filling up. When the old part is full its width doubles and neighbouring buckets are
merged in pairs. A bucket's
p95 is the p95 of the merge of its intervals' digests, its rps its requests over its span,
its error rate its failed requests over its requests, its vus the highest of its intervals.

Each point is the dict the reports and outputs read (``t``, ``span_s``, ``n``,
``scenarios`` and ``all``, each ``{reqs, rps, p50, p95, p99, error_rate, vus}``); the digests
and counts behind it stay here, at ``BUCKET_CENTROIDS`` each, so memory is bounded too:
``MAX_POINTS x (scenarios + 1)`` digests of at most ``BUCKET_CENTROIDS`` centroids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veza_ray.core.digest import Digest, DigestBatch

RECENT_POINTS = 360  # the last 6 minutes at one interval a second
OLD_POINTS = 360
MAX_POINTS = RECENT_POINTS + OLD_POINTS + 1  # + the bucket filling up
# A bucket's digest: p95 within ~0.5 % of the merge of its intervals at full resolution
# (tests/unit/test_series.py); 200 was ~1.2 %.
BUCKET_CENTROIDS = 500
ALL = "all"  # the key of every request, whatever its scenario


@dataclass
class ScopeCounts:
    """One scope's (a scenario's, or all requests') numbers for one point."""

    digest: Digest = field(default_factory=lambda: Digest(BUCKET_CENTROIDS))
    reqs: float = 0.0
    failed: float = 0.0  # requests counted in http_req_failed
    judged: float = 0.0  # requests http_req_failed judged (its total)
    vus: float = 0.0

    def point(self, span_s: float) -> dict[str, float]:
        return {
            "reqs": self.reqs,
            "rps": self.reqs / span_s if span_s > 0 else 0.0,
            "p50": self.digest.quantile(0.5),
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
        self.filling: list[Bucket] = []  # aged intervals not yet a full old bucket
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
        """An interval leaves the recent part: it waits in ``filling`` until there are
        ``width`` of them, then they become one old bucket, merged in one tree (one
        compression, not one per interval)."""
        self.filling.append(bucket)
        if sum(b.n for b in self.filling) >= self.width:
            self.old.append(merge_buckets(self.filling))
            self.filling = []
        if len(self.old) > self.old_max:
            self.width *= 2
            pairs = [self.old[i : i + 2] for i in range(0, len(self.old), 2)]
            if len(pairs[-1]) == 1:  # a lone bucket is half a new one: it fills up
                self.filling = [pairs.pop()[0], *self.filling]
            self.old = [merge_buckets(p) for p in pairs]

    def __len__(self) -> int:
        return len(self.old) + (1 if self.filling else 0) + len(self.recent)

    def points(self) -> list[dict[str, Any]]:
        return [b.render() for b in self.buckets()]

    def buckets(self) -> list[Bucket]:
        """Old buckets, the one filling up (merged for the view), then the recent ones."""
        filling = [merge_buckets(self.filling)] if self.filling else []
        return [*self.old, *filling, *self.recent]


def merge_buckets(parts: list[Bucket]) -> Bucket:
    """Adjacent buckets as one: each scope's digests merged in one tree at
    ``BUCKET_CENTROIDS``, counts added, vus the highest."""
    if len(parts) == 1:
        return parts[0]
    scopes: dict[str, ScopeCounts] = {}
    batches: dict[str, DigestBatch] = {}
    for part in parts:
        for name, counts in part.scopes.items():
            mine = scopes.setdefault(name, ScopeCounts())
            batches.setdefault(name, DigestBatch(BUCKET_CENTROIDS)).add(counts.digest)
            mine.reqs += counts.reqs
            mine.failed += counts.failed
            mine.judged += counts.judged
            mine.vus = max(mine.vus, counts.vus)
    for name, batch in batches.items():
        scopes[name].digest = batch.merged()
    return Bucket(parts[-1].t, sum(p.span_s for p in parts), sum(p.n for p in parts), scopes)


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
