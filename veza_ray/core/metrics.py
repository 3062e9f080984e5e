"""Metric sinks, series keyed by (name, tags), delta snapshots and their merge.

An actor records into a ``MetricStore``; about once a second the driver asks for a delta
(``store.drain()``: everything since the last drain, as wire dicts) and merges it into its
own cumulative store. Counters, rates and digests merge by addition, so the merged numbers
are exactly what one big process would have measured; gauges keep the newest value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, cast

from veza_ray.core import cardinality
from veza_ray.core.digest import DEFAULT_MAX_CENTROIDS, Digest, DigestBatch, DigestWire
from veza_ray.core.metric_types import MetricDef, MetricType, Tags
from veza_ray.core.trend_stats import percentile_of

SeriesKey = tuple[str, Tags]

DEFAULT_TREND_STATS: tuple[str, ...] = ("avg", "min", "med", "max", "p(90)", "p(95)")


class CounterSink:
    """Sum of added values (k6 Counter): reports ``count`` (the sum) and ``rate`` per second."""

    __slots__ = ("total",)
    kind = MetricType.COUNTER

    def __init__(self) -> None:
        self.total = 0.0

    def add(self, value: float) -> None:
        self.total += value

    def merge(self, other: CounterSink) -> None:
        self.total += other.total

    def reset(self) -> None:
        self.total = 0.0

    def empty(self) -> bool:
        return self.total == 0.0

    def values(self, duration_s: float, stats: Iterable[str] = ()) -> dict[str, float]:
        rate = self.total / duration_s if duration_s > 0 else 0.0
        return {"count": self.total, "rate": rate}

    def to_wire(self) -> dict[str, Any]:
        return {"total": self.total}

    @classmethod
    def from_wire(cls, w: Mapping[str, Any]) -> CounterSink:
        s = cls()
        s.total = float(w["total"])
        return s


class GaugeSink:
    """Last value with min and max (k6 Gauge); ``stamp`` orders values across actors."""

    __slots__ = ("max", "min", "stamp", "value")
    kind = MetricType.GAUGE

    def __init__(self) -> None:
        self.value, self.min, self.max, self.stamp = 0.0, math.inf, -math.inf, -math.inf

    def add(self, value: float, stamp: float = 0.0) -> None:
        if stamp >= self.stamp:
            self.value = value
            self.stamp = stamp
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def reset(self) -> None:
        self.value = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.stamp = -math.inf

    def merge(self, other: GaugeSink) -> None:
        if other.stamp == -math.inf:
            return
        if other.stamp >= self.stamp:
            self.value, self.stamp = other.value, other.stamp
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def empty(self) -> bool:
        return self.stamp == -math.inf

    def values(self, duration_s: float, stats: Iterable[str] = ()) -> dict[str, float]:
        if self.empty():
            return {"value": 0.0, "min": 0.0, "max": 0.0}
        return {"value": self.value, "min": self.min, "max": self.max}

    def to_wire(self) -> dict[str, Any]:
        return {"value": self.value, "min": self.min, "max": self.max, "stamp": self.stamp}

    @classmethod
    def from_wire(cls, w: Mapping[str, Any]) -> GaugeSink:
        s = cls()
        s.value, s.min, s.max, s.stamp = (float(w[k]) for k in ("value", "min", "max", "stamp"))
        return s


class RateSink:
    """Share of non-zero samples (k6 Rate): ``rate``, ``passes`` (non-zero) and ``fails``."""

    __slots__ = ("passes", "total")
    kind = MetricType.RATE

    def __init__(self) -> None:
        self.passes = 0
        self.total = 0

    def add(self, value: float) -> None:
        self.total += 1
        if value:
            self.passes += 1

    def merge(self, other: RateSink) -> None:
        self.passes += other.passes
        self.total += other.total

    def reset(self) -> None:
        self.passes = 0
        self.total = 0

    def empty(self) -> bool:
        return self.total == 0

    def values(self, duration_s: float, stats: Iterable[str] = ()) -> dict[str, float]:
        rate = self.passes / self.total if self.total else 0.0
        return {
            "rate": rate,
            "passes": float(self.passes),
            "fails": float(self.total - self.passes),
        }

    def to_wire(self) -> dict[str, Any]:
        return {"passes": self.passes, "total": self.total}

    @classmethod
    def from_wire(cls, w: Mapping[str, Any]) -> RateSink:
        s = cls()
        s.passes, s.total = int(w["passes"]), int(w["total"])
        return s


class TrendSink:
    """Raw values buffered in a list on the hot path, folded into a digest at flush.

    On the driver, incoming digests wait in ``pending`` (``DigestBatch``es, which the
    cumulative and interval stores share) and are folded at the next flush, which every
    read of ``digest`` does first.
    """

    __slots__ = ("_digest", "buffer", "pending")
    kind = MetricType.TREND

    def __init__(self, max_centroids: int = DEFAULT_MAX_CENTROIDS) -> None:
        self.buffer: list[float] = []
        self.pending: list[DigestBatch] = []
        self._digest = Digest(max_centroids)

    @property
    def digest(self) -> Digest:
        if self.buffer or self.pending:
            self.flush()
        return self._digest

    def add(self, value: float) -> None:
        self.buffer.append(value)

    def flush(self) -> None:
        if self.buffer:
            self._digest.add_many(self.buffer)
            self.buffer = []
        if self.pending:
            for r in self.pending:
                self._digest.merge(r.merged())
            self.pending = []

    def take(self, r: DigestBatch) -> None:
        """Fold ``r`` in at the next flush (once, however many digests it gathers)."""
        if not self.pending or self.pending[-1] is not r:
            self.pending.append(r)

    def reset(self) -> None:
        self.buffer = []
        self.pending = []
        self._digest = Digest(self._digest.max_centroids)

    def merge(self, other: TrendSink) -> None:
        self.digest.merge(other.digest)

    def empty(self) -> bool:
        return self._digest.count == 0 and not self.buffer and not self.pending

    def values(
        self, duration_s: float, stats: Iterable[str] = DEFAULT_TREND_STATS
    ) -> dict[str, float]:
        d = self.digest
        return {name: trend_stat(d, name) for name in stats}

    def to_wire(self, binary: bool = False) -> dict[str, Any]:
        return {"digest": self.digest.to_wire(binary)}

    @classmethod
    def from_wire(cls, w: Mapping[str, Any]) -> TrendSink:
        wire: DigestWire = w["digest"]
        s = cls(int(wire["max_centroids"]))
        s._digest = Digest.from_wire(wire)
        return s


Sink = CounterSink | GaugeSink | RateSink | TrendSink

_SINK_CLASSES: dict[MetricType, type[Sink]] = {
    MetricType.COUNTER: CounterSink,
    MetricType.GAUGE: GaugeSink,
    MetricType.RATE: RateSink,
    MetricType.TREND: TrendSink,
}


def new_sink(kind: MetricType, max_centroids: int = DEFAULT_MAX_CENTROIDS) -> Sink:
    if kind is MetricType.TREND:
        return TrendSink(max_centroids)
    return _SINK_CLASSES[kind]()


def trend_stat(d: Digest, name: str) -> float:
    """A trend stat by its k6 name (core/trend_stats.py): avg, min, med, max, count, sum,
    p(N). Which names a place accepts is the grammar's business, not this one's."""
    if name == "avg":
        return d.avg
    if name == "min":
        return d.min if d.count else 0.0
    if name == "max":
        return d.max if d.count else 0.0
    if name == "med":
        return d.quantile(0.5)
    if name == "count":
        return float(d.count)
    if name == "sum":
        return d.sum
    pct = percentile_of(name)
    if pct is not None:
        return d.quantile(pct / 100.0)
    raise ValueError(f"unknown trend stat {name!r}")


# A store fed by merge_wire and never read nor ended folds a series after this many digests.
MAX_ROUND_DIGESTS = 1024


class SeriesWire(TypedDict):
    """One series on the wire: metric name, tags as pairs, and the sink's own fields."""

    m: str
    t: Sequence[Sequence[str]]  # (key, value) pairs: a tuple as drained, lists from JSON
    s: dict[str, Any]


class MetricStore:
    """Sinks keyed by (metric, tags); the actor's buffer and the driver's cumulative merge."""

    def __init__(
        self,
        defs: Mapping[str, MetricDef],
        max_centroids: int = DEFAULT_MAX_CENTROIDS,
        max_series_per_metric: int = cardinality.MAX_SERIES_PER_METRIC,
    ) -> None:
        self.max_centroids = max_centroids
        self.defs: dict[str, MetricDef] = dict(defs)
        self.series: dict[SeriesKey, Sink] = {}
        # Tag sets per metric are bounded (core/cardinality.py): past the limit a new one
        # is folded into an overflow series; ``overflow_series`` counts those made here.
        self.max_series_per_metric = max_series_per_metric
        self._per_metric: dict[str, int] = {}
        self.overflow_series = 0
        # Actor side: drain() ships fastdigest bytes (set per pull, when the driver reads
        # our BINARY_FORMAT). Driver side: the open DigestBatch of each trend series.
        self.binary_digests = False
        self._rounds: dict[SeriesKey, tuple[DigestBatch, MetricStore | None]] = {}

    def sink(self, name: str, tags: Tags) -> Sink:
        """The sink for one series, created on first use (raises KeyError on unknown
        metrics); past the metric's limit of tag sets, the sink of its overflow series."""
        s = self.series.get((name, tags))
        if s is None:
            tags = self.admit(name, tags)
            s = self.series.get((name, tags))
            if s is None:
                s = new_sink(self.defs[name].type, self.max_centroids)
                self.series[(name, tags)] = s
                if cardinality.is_overflow(tags):
                    self.overflow_series += 1
                else:
                    self._per_metric[name] = self._per_metric.get(name, 0) + 1
        return s

    def admit(self, name: str, tags: Tags) -> Tags:
        """The tags a series is kept under here: its own, or its overflow tag set once the
        metric holds its limit of tag sets (an overflow tag set is always admitted)."""
        if (name, tags) in self.series or cardinality.is_overflow(tags):
            return tags
        if self._per_metric.get(name, 0) < self.max_series_per_metric:
            return tags
        return cardinality.fold(tags)

    def folded_samples(self) -> dict[str, int]:
        """Per metric, the samples its overflow series hold (gauges have no count)."""
        out: dict[str, int] = {}
        for (name, tags), s in self.series.items():
            if not cardinality.is_overflow(tags) or isinstance(s, GaugeSink):
                continue
            n = s.total if isinstance(s, (CounterSink, RateSink)) else s.digest.count
            out[name] = out.get(name, 0) + int(n)
        return out

    def drain(self) -> list[SeriesWire]:
        """Everything recorded since the last drain, as wire dicts, then zero every sink.

        Sinks are reset in place rather than replaced, so the hot path may keep direct
        references to them across drains.
        """
        out: list[SeriesWire] = []
        binary = self.binary_digests
        for (name, tags), s in self.series.items():
            if s.empty():
                continue
            wire = s.to_wire(binary) if isinstance(s, TrendSink) else s.to_wire()
            out.append({"m": name, "t": tags, "s": wire})
            s.reset()
        return out

    def merge_wire(
        self,
        wire: Iterable[SeriesWire],
        also: MetricStore | None = None,
        also_names: frozenset[str] = frozenset(),
    ) -> None:
        """Merge an actor's delta; series named in ``also_names`` also go into ``also``.

        Each series is decoded once even when two stores take it (the driver's cumulative
        and per-interval views). Trend digests are not merged here: they gather in one
        ``DigestBatch`` per series, merged in one tree at ``end_round`` or the first read.
        """
        rounds, defs = self._rounds, self.defs
        for item in wire:
            name = item["m"]
            d = defs.get(name)
            if d is None:
                continue
            t = item["t"]
            # Pickled deltas keep the tuple; JSON ones (tests, tools) bring lists.
            tags = cast(Tags, t if type(t) is tuple else tuple((k, v) for k, v in t))
            tags = self.admit(name, tags)  # the driver's own bound on tag sets
            both = also if also is not None and name in also_names else None
            if d.type is MetricType.TREND:
                key = (name, tags)
                open_ = rounds.get(key)
                if open_ is None or open_[1] is not both or open_[0].closed:
                    open_ = rounds[key] = (self._open_round(name, tags, both), both)
                batch = open_[0]
                batch.add_wire(item["s"]["digest"])
                if len(batch) >= MAX_ROUND_DIGESTS:  # nobody ends rounds: bound the memory
                    batch.merged()
                continue
            incoming = _SINK_CLASSES[d.type].from_wire(item["s"])
            if both is not None:
                both.sink(name, tags).merge(incoming)  # type: ignore[arg-type]
            self.sink(name, tags).merge(incoming)  # type: ignore[arg-type]

    def _open_round(self, name: str, tags: Tags, both: MetricStore | None) -> DigestBatch:
        """A new batch for one series, which this store's sink (and ``both``'s) will fold."""
        batch = DigestBatch(self.max_centroids)
        for store in (self, both):
            if store is not None:
                s = store.sink(name, tags)
                assert isinstance(s, TrendSink)
                s.take(batch)
        return batch

    def end_round(self) -> None:
        """Fold every trend series' digests gathered since the last round into its sink.

        The driver calls it once per pull round (``MergedRun.close_interval``); the
        ``DigestBatch``s stay readable by the other stores that took them.
        """
        for key in self._rounds:
            s = self.series[key]
            if isinstance(s, TrendSink):
                s.flush()
        self._rounds.clear()

    def names(self) -> list[str]:
        return sorted({name for name, _ in self.series})

    def aggregate(self, name: str, selector: Tags = ()) -> Sink | None:
        """All series of ``name`` whose tags include every selector pair, merged; None if none."""
        d = self.defs.get(name)
        if d is None:
            return None
        out: Sink | None = None
        want = set(selector)
        for (n, tags), s in self.series.items():
            if n != name or (want and not want.issubset(tags)):
                continue
            if out is None:
                out = new_sink(d.type)
            out.merge(s)  # type: ignore[arg-type]
        return out
