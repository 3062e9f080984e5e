"""A mergeable latency digest: fastdigest's t-digest plus exact count, sum, min and max.

Why this shape: per-sample cost must be tens of nanoseconds, so values are appended to a
plain list by the caller and folded in with ``batch_update`` at flush time. Merging must
be cheap on the driver (64 actors x ~36 trend series each second), so:

- digests travel as versioned dicts whose centroids are fastdigest's own ``to_bytes``
  (about 1 us to read back, against ~15 us plus the JSON parse for a list of dicts), but
  only when the driver runs the very same fastdigest (``BINARY_FORMAT``): that format
  changed between releases. Otherwise the portable dict form goes, in the ``tdigest``
  package's centroid layout (``{"m": mean, "c": count}``) so other tools can read it;
- many digests are merged in one tree of fastdigest ``merge_all`` calls (``DigestBatch``,
  ``_merge_tree``), rather than one ``merge_inplace`` per actor into a 1000-centroid
  digest: each sample is compressed fewer times, for well under half the cost.

Known weakness, shared by every t-digest: a quantile that falls in an empty gap between
two modes is interpolated into the gap (see docs/reports.md and the bimodal tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TypedDict, cast

from fastdigest import TDigest
from fastdigest import merge_all as _fd_merge_all

# 2: centroids may travel as fastdigest bytes (``bin`` + ``fmt``) instead of dicts.
WIRE_VERSION = 2
DEFAULT_MAX_CENTROIDS = 1000
# An actor's per-second delta digest: 200 centroids keep p99.9 within ~0.2 % once merged
# (bench/digest_merge.py) and cut what the driver reads each second about 5x.
DELTA_MAX_CENTROIDS = 200
# Digests per fastdigest.merge_all call in a merge tree. Its cost per centroid grows with
# the call's size (each of its pairwise passes allocates the whole buffer, past 128 KiB
# that is fresh pages each time): 8 x 200 centroids cost ~15 ns each, 64 x 200 ~55 ns.
MERGE_LEAF = 8
MERGE_UPPER = 4  # upper levels hold up to max_centroids each: 4 x 1000 x 16 B = 64 KiB


def _binary_format() -> str:
    """Names the ``to_bytes`` layout: the fastdigest release. Empty when it has none."""
    if not hasattr(TDigest, "from_bytes"):
        return ""
    try:
        return f"fastdigest {version('fastdigest')}"
    except PackageNotFoundError:
        return ""


BINARY_FORMAT = _binary_format()


class CentroidWire(TypedDict):
    m: float
    c: float


class _DigestWireBase(TypedDict):
    v: int
    max_centroids: int
    count: int
    sum: float
    min: float
    max: float
    centroids: list[CentroidWire]


class DigestWire(_DigestWireBase, total=False):
    """The dict a digest crosses Ray as; ``v`` lets a newer driver refuse an older actor.

    ``bin`` (fastdigest ``to_bytes``, with ``fmt`` = the sender's ``BINARY_FORMAT``)
    replaces ``centroids`` when the receiver said it reads that format.
    """

    bin: bytes
    fmt: str


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

    def centroids(self) -> list[tuple[float, float]]:
        """(mean, weight) pairs, for reports that draw the distribution."""
        if self._td is None:
            return []
        return [(float(c["m"]), float(c["c"])) for c in _centroids(self._td)]

    def to_wire(self, binary: bool = False) -> DigestWire:
        """The wire dict; ``binary`` only when the receiver reads our ``BINARY_FORMAT``."""
        wire: DigestWire = {
            "v": WIRE_VERSION,
            "max_centroids": self.max_centroids,
            "count": self.count,
            "sum": self.sum,
            "min": self.min if self.count else 0.0,
            "max": self.max if self.count else 0.0,
            "centroids": [],
        }
        if self._td is None:
            return wire
        if binary and BINARY_FORMAT:
            wire["bin"] = self._td.to_bytes()
            wire["fmt"] = BINARY_FORMAT
        else:
            # fastdigest's dict already uses the {"m", "c"} centroid layout: ship it as is.
            wire["centroids"] = cast(list[CentroidWire], _centroids(self._td))
        return wire

    @classmethod
    def from_wire(cls, wire: DigestWire) -> Digest:
        """Rebuild a digest; the centroids go to fastdigest untouched (the driver's merge
        cost is per centroid, so no Python work per centroid happens here)."""
        out = cls(int(wire["max_centroids"]))
        out.count = _check_wire(wire)
        if out.count == 0:
            return out
        out.sum = float(wire["sum"])
        out.min = float(wire["min"])
        out.max = float(wire["max"])
        out._td = _wire_td(wire, out.count, out.sum, out.min, out.max)
        return out


def _check_wire(wire: DigestWire) -> int:
    """The wire digest's count, once its version is ours (else a ValueError that says why)."""
    v = wire.get("v")
    if v != WIRE_VERSION:
        raise ValueError(
            f"digest wire version {v!r} is not {WIRE_VERSION}: the actor runs "
            + ("an older" if isinstance(v, int) and v < WIRE_VERSION else "another")
            + " veza-ray than the driver; install the same veza-ray on every node"
        )
    return int(wire["count"])


def _wire_td(wire: DigestWire, count: int, total: float, lo: float, hi: float) -> TDigest | None:
    blob = wire.get("bin")
    if blob is not None:
        fmt = wire.get("fmt")
        if not BINARY_FORMAT or fmt != BINARY_FORMAT:
            raise ValueError(
                f"digest bytes from {fmt!r}, this process reads "
                f"{BINARY_FORMAT or 'no fastdigest bytes'}: the sender must send the "
                "dict form when the formats differ"
            )
        return TDigest.from_bytes(blob)
    if not wire["centroids"]:
        return None
    return TDigest.from_dict(
        {
            "max_centroids": int(wire["max_centroids"]),
            "mass": float(count),  # exact: every recorded value weighs 1
            "sum": total,
            "min": lo,
            "max": hi,
            "n_values": count,
            "centroids": wire["centroids"],
        }
    )


def _centroids(td: TDigest) -> list[dict[str, float]]:
    return cast(list[dict[str, float]], td.to_dict()["centroids"])


class DigestBatch:
    """Digests gathered to be merged in one tree when first needed: on the driver, one
    series' digests from one pull round. Wire dicts are kept as they come and read only
    at the merge, in a few tight passes: per actor and series the driver pays a list
    append, not a ``Digest`` (that cost, 2,000+ times a second, was a third of the merge).
    """

    __slots__ = ("_digests", "_merged", "_wires", "max_centroids")

    def __init__(self, max_centroids: int = DEFAULT_MAX_CENTROIDS) -> None:
        self.max_centroids = max_centroids
        self._wires: list[DigestWire] = []
        self._digests: list[Digest] = []
        self._merged: Digest | None = None

    def __len__(self) -> int:
        return len(self._wires) + len(self._digests)

    @property
    def closed(self) -> bool:
        """Merged already: nothing more may be added."""
        return self._merged is not None

    def add(self, d: Digest) -> None:
        if self._merged is not None:
            raise RuntimeError("this batch is merged already")
        self._digests.append(d)

    def add_wire(self, wire: DigestWire) -> None:
        """Keep a wire digest, refused now if its version is not ours (its centroids are
        read at the merge)."""
        if self._merged is not None:
            raise RuntimeError("this batch is merged already")
        if wire.get("v") != WIRE_VERSION:
            _check_wire(wire)  # raises, saying why
        self._wires.append(wire)

    def merged(self) -> Digest:
        """The merge of everything added (computed once, then this batch is closed)."""
        if self._merged is None:
            self._merged = self._merge()
            self._wires, self._digests = [], []
        return self._merged

    def _merge(self) -> Digest:
        out = Digest(self.max_centroids)
        parts = [d for d in self._digests if d.count]
        wires = [w for w in self._wires if w["count"]]
        if not parts and not wires:
            return out
        out.count = sum(d.count for d in parts) + sum(int(w["count"]) for w in wires)
        out.sum = math.fsum([*(d.sum for d in parts), *(w["sum"] for w in wires)])
        out.min = float(min([*(d.min for d in parts), *(w["min"] for w in wires)]))
        out.max = float(max([*(d.max for d in parts), *(w["max"] for w in wires)]))
        tds = [d._td for d in parts if d._td is not None]
        if BINARY_FORMAT and all(w.get("fmt") == BINARY_FORMAT for w in wires):
            tds += [TDigest.from_bytes(w["bin"]) for w in wires]  # the driver's hot path
        else:
            for w in wires:
                td = _wire_td(w, int(w["count"]), w["sum"], w["min"], w["max"])
                if td is not None:
                    tds.append(td)
        if tds:
            out._td = _merge_tree(tds, self.max_centroids)
        return out


def _merge_tree(tds: list[TDigest], max_centroids: int) -> TDigest:
    """Leaves of ``MERGE_LEAF`` digests, then groups of ``MERGE_UPPER``, one
    ``merge_all`` each. A leaf holds about ``MERGE_LEAF / n`` of the mass, so it is kept
    at 4x the resolution that share needs at the top, not at the full ``max_centroids``:
    the upper levels then have about half as many centroids to sort."""
    n = len(tds)
    if n <= MERGE_LEAF:
        return _fd_merge_all(tds, max_centroids=max_centroids)
    leaf = min(max_centroids, max(DELTA_MAX_CENTROIDS, max_centroids * 4 * MERGE_LEAF // n))
    level = [
        _fd_merge_all(tds[i : i + MERGE_LEAF], max_centroids=leaf) for i in range(0, n, MERGE_LEAF)
    ]
    while len(level) > 1:
        level = [
            _fd_merge_all(level[i : i + MERGE_UPPER], max_centroids=max_centroids)
            for i in range(0, len(level), MERGE_UPPER)
        ]
    return level[0]
