"""Digest: accuracy against numpy's exact percentiles, merge, wire round trip.

Pure: no Ray, no network, no sleeping, no wall-clock limits. Every random set has a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.core import digest as digest_mod
from veza_ray.core.digest import (
    BINARY_FORMAT,
    DEFAULT_MAX_CENTROIDS,
    WIRE_VERSION,
    Digest,
    DigestBatch,
)

QUANTILES = (0.5, 0.9, 0.95, 0.99)


def merge_all(digests: Iterable[Digest], max_centroids: int = DEFAULT_MAX_CENTROIDS) -> Digest:
    """All the digests' mass in one, through the same DigestBatch tree the driver uses."""
    batch = DigestBatch(max_centroids)
    for d in digests:
        batch.add(d)
    return batch.merged()


def _digest(values: np.ndarray | list[float], batches: int = 1) -> Digest:
    d = Digest()
    for chunk in np.array_split(np.asarray(values, dtype=float), batches):
        d.add_many(chunk.tolist())
    return d


def _merged(values: np.ndarray, parts: int = 16) -> Digest:
    """``parts`` digests (as ``parts`` actors would build them, in flush batches), merged."""
    return merge_all(_digest(p, batches=8) for p in np.array_split(values, parts))


@pytest.fixture(scope="module")
def lognormal() -> np.ndarray:
    rng = np.random.default_rng(20240601)
    return rng.lognormal(mean=3.0, sigma=0.6, size=1_000_000)


@pytest.fixture(scope="module")
def bimodal() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half around 10 ms (within 5..15), half around 200 ms (within 150..250), shuffled."""
    rng = np.random.default_rng(7)
    fast = np.clip(rng.normal(10.0, 1.0, 500_000), 5.0, 15.0)
    slow = np.clip(rng.normal(200.0, 10.0, 500_000), 150.0, 250.0)
    both = np.concatenate([fast, slow])
    rng.shuffle(both)
    return both, fast, slow


# --------------------------------------------------------------------------- accuracy


def test_sixteen_merged_lognormal_digests_within_one_percent(lognormal: np.ndarray) -> None:
    merged = _merged(lognormal, 16)
    assert merged.count == 1_000_000
    for q in QUANTILES:
        exact = float(np.percentile(lognormal, q * 100))
        got = merged.quantile(q)
        assert got == pytest.approx(exact, rel=0.01), (q, got, exact)


def test_merged_count_sum_min_max_are_exact(lognormal: np.ndarray) -> None:
    merged = _merged(lognormal, 16)
    assert merged.count == lognormal.size
    assert merged.min == float(lognormal.min())
    assert merged.max == float(lognormal.max())
    assert merged.sum == pytest.approx(math.fsum(lognormal.tolist()), rel=1e-12)
    assert merged.avg == pytest.approx(float(lognormal.mean()), rel=1e-12)


def test_bimodal_quantile_ranks_within_a_tenth_of_a_point(
    bimodal: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    data, _, _ = bimodal
    merged = _merged(data, 16)
    ordered = np.sort(data)
    for q in (0.1, 0.25, 0.75, 0.9, 0.95, 0.99):
        value = merged.quantile(q)
        rank = np.searchsorted(ordered, value, side="right") / ordered.size
        assert abs(rank - q) <= 0.001, (q, value, rank)


def test_bimodal_median_falls_into_the_empty_gap(
    bimodal: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Known, expected weakness of every t-digest, not a veza-ray bug.

    When the requested quantile sits exactly between two modes with nothing between them,
    the digest interpolates between the last centroid of the low mode and the first of the
    high mode, so it reports a value that no sample ever had (numpy would report a value at
    a mode's edge). The rank of that value is still right (half the data lies below it);
    only the value is invented. Documented in veza_ray/core/digest.py.
    """
    data, fast, slow = bimodal
    merged = _merged(data, 16)
    median = merged.quantile(0.5)
    assert float(fast.max()) < median < float(slow.min())
    assert not np.any((data > fast.max()) & (data < slow.min()))  # the gap really is empty


# --------------------------------------------------------------------------- small samples


@settings(deadline=None, max_examples=150)
@given(
    values=st.lists(
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=300,
    ),
    q=st.sampled_from((0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)),
)
def test_small_samples_are_exact_like_k6(values: list[float], q: float) -> None:
    """Below max_centroids every value is its own centroid: k6's (= numpy's linear) percentile."""
    d = _digest(values)
    exact = float(np.percentile(values, q * 100))
    assert d.quantile(q) == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_k6_percentile_table() -> None:
    # k6's TrendSink.P: i = pct*(n-1), linear between floor and ceil.
    d = _digest([1.0, 2.0, 3.0, 4.0])
    assert d.quantile(0.5) == pytest.approx(2.5)
    assert d.quantile(0.9) == pytest.approx(3.7)
    assert d.quantile(0.95) == pytest.approx(3.85)


def test_empty_digest_reports_zero() -> None:
    d = Digest()
    assert d.count == 0
    assert d.quantile(0.5) == 0.0
    assert d.avg == 0.0
    assert d.centroids() == []
    d.add_many([])
    assert d.count == 0


def test_quantile_edges_are_exact_min_and_max() -> None:
    d = _digest([5.0, 1.0, 9.0, 3.0])
    assert d.quantile(0.0) == 1.0
    assert d.quantile(-1.0) == 1.0
    assert d.quantile(1.0) == 9.0
    assert d.quantile(2.0) == 9.0
    single = _digest([42.0])
    assert single.quantile(0.5) == 42.0
    assert single.quantile(0.99) == 42.0


def test_merge_of_empty_is_noop_and_copy_is_independent() -> None:
    d = _digest([1.0, 2.0])
    d.merge(Digest())
    assert (d.count, d.sum, d.min, d.max) == (2, 3.0, 1.0, 2.0)
    e = Digest()
    e.merge(d)
    assert (e.count, e.sum, e.min, e.max) == (2, 3.0, 1.0, 2.0)
    c = d.copy()
    c.add_many([100.0])
    assert d.count == 2
    assert d.max == 2.0
    assert c.count == 3
    assert c.max == 100.0


def test_centroid_weights_add_up_to_count() -> None:
    d = _digest(np.random.default_rng(3).exponential(20.0, 50_000))
    cents = d.centroids()
    assert 0 < len(cents) <= DEFAULT_MAX_CENTROIDS + 1
    assert sum(w for _, w in cents) == pytest.approx(50_000)


# --------------------------------------------------------------------------- wire


def test_wire_round_trip_is_exact_for_counts_and_close_for_quantiles(
    lognormal: np.ndarray,
) -> None:
    d = _merged(lognormal[:200_000], 4)
    wire = d.to_wire()
    assert wire["v"] == WIRE_VERSION
    assert set(wire) == {"v", "max_centroids", "count", "sum", "min", "max", "centroids"}
    assert all(set(c) == {"m", "c"} for c in wire["centroids"])
    back = Digest.from_wire(wire)
    assert (back.count, back.sum, back.min, back.max) == (d.count, d.sum, d.min, d.max)
    assert back.max_centroids == d.max_centroids
    for q in (0.01, *QUANTILES, 0.999):
        assert back.quantile(q) == pytest.approx(d.quantile(q), rel=1e-6)


def test_wire_survives_orjson() -> None:
    d = _digest(np.random.default_rng(11).lognormal(2.0, 1.0, 10_000), batches=3)
    wire = d.to_wire()
    loaded = orjson.loads(orjson.dumps(wire))
    assert loaded == wire
    back = Digest.from_wire(loaded)
    assert (back.count, back.sum, back.min, back.max) == (d.count, d.sum, d.min, d.max)
    assert back.quantile(0.95) == pytest.approx(d.quantile(0.95), rel=1e-9)


def test_empty_wire_round_trip_and_orjson() -> None:
    wire = Digest().to_wire()
    assert wire["count"] == 0
    assert wire["min"] == 0.0  # not inf: JSON has no infinity
    assert wire["max"] == 0.0
    assert wire["centroids"] == []
    back = Digest.from_wire(orjson.loads(orjson.dumps(wire)))
    assert back.count == 0
    assert back.quantile(0.5) == 0.0
    # an empty digest from the wire merges like a fresh one
    d = _digest([4.0])
    d.merge(back)
    assert (d.count, d.min, d.max) == (1, 4.0, 4.0)


@pytest.mark.parametrize("version", [0, 1, WIRE_VERSION + 1, None, str(WIRE_VERSION)])
def test_wrong_wire_version_raises(version: object) -> None:
    wire = dict(_digest([1.0, 2.0]).to_wire())
    wire["v"] = version
    with pytest.raises(ValueError, match="version"):
        Digest.from_wire(wire)  # type: ignore[arg-type]


def test_missing_wire_version_raises() -> None:
    wire = dict(_digest([1.0]).to_wire())
    del wire["v"]
    with pytest.raises(ValueError, match="version"):
        Digest.from_wire(wire)  # type: ignore[arg-type]


def test_merging_wire_digests_equals_merging_digests(lognormal: np.ndarray) -> None:
    parts = [_digest(p) for p in np.array_split(lognormal[:100_000], 8)]
    direct = merge_all(parts)
    via_wire = merge_all(Digest.from_wire(orjson.loads(orjson.dumps(p.to_wire()))) for p in parts)
    assert (via_wire.count, via_wire.min, via_wire.max) == (direct.count, direct.min, direct.max)
    assert via_wire.sum == pytest.approx(direct.sum, rel=1e-12)
    for q in QUANTILES:
        assert via_wire.quantile(q) == pytest.approx(direct.quantile(q), rel=1e-6)


def test_older_actor_is_refused_by_name() -> None:
    """A v1 digest (an actor running an older veza-ray) is refused with a message that says
    so, by Digest.from_wire and by the driver's batch path alike."""
    wire = dict(_digest([1.0, 2.0]).to_wire())
    wire["v"] = 1
    with pytest.raises(ValueError, match="older veza-ray"):
        Digest.from_wire(wire)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="older veza-ray"):
        DigestBatch().add_wire(wire)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- binary wire

needs_binary = pytest.mark.skipif(not BINARY_FORMAT, reason="this fastdigest has no to_bytes")


@needs_binary
def test_binary_wire_round_trip_is_exact(lognormal: np.ndarray) -> None:
    d = _merged(lognormal[:200_000], 4)
    wire = d.to_wire(binary=True)
    assert wire["v"] == WIRE_VERSION
    assert wire["fmt"] == BINARY_FORMAT
    assert isinstance(wire["bin"], bytes)
    assert wire["centroids"] == []
    back = Digest.from_wire(wire)
    assert (back.count, back.sum, back.min, back.max) == (d.count, d.sum, d.min, d.max)
    assert back.centroids() == d.centroids()  # the bytes carry every centroid bit for bit
    for q in (0.001, *QUANTILES, 0.999):
        assert back.quantile(q) == d.quantile(q)


@needs_binary
def test_empty_digest_sends_no_bytes() -> None:
    wire = Digest().to_wire(binary=True)
    assert "bin" not in wire
    assert Digest.from_wire(wire).count == 0


@needs_binary
def test_binary_wire_from_another_fastdigest_is_refused() -> None:
    wire = _digest([1.0, 2.0, 3.0]).to_wire(binary=True)
    wire["fmt"] = "fastdigest 0.0.1"
    with pytest.raises(ValueError, match="dict form"):
        Digest.from_wire(wire)
    batch = DigestBatch()
    batch.add_wire(wire)
    with pytest.raises(ValueError, match="dict form"):
        batch.merged()


def test_without_a_binary_format_the_dict_form_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fastdigest without to_bytes (or unknown release): binary=True still sends dicts."""
    monkeypatch.setattr(digest_mod, "BINARY_FORMAT", "")
    wire = _digest([1.0, 2.0, 3.0]).to_wire(binary=True)
    assert "bin" not in wire
    assert [c["m"] for c in wire["centroids"]] == [1.0, 2.0, 3.0]


# --------------------------------------------------------------------------- batch / tree


def _wires(parts: list[Digest], binary: bool) -> list:
    return [p.to_wire(binary=binary and bool(BINARY_FORMAT)) for p in parts]


@pytest.mark.parametrize("binary", [False, True])
def test_batch_of_wires_is_exact_for_count_sum_min_max(lognormal: np.ndarray, binary: bool) -> None:
    values = lognormal[:300_000]
    parts = [_digest(p, batches=2) for p in np.array_split(values, 64)]
    batch = DigestBatch()
    for w in _wires(parts, binary):
        batch.add_wire(w)
    batch.add_wire(Digest().to_wire(binary=binary))  # an empty one changes nothing
    assert len(batch) == 65
    merged = batch.merged()
    assert batch.closed
    assert merged.count == values.size
    assert merged.min == float(values.min())
    assert merged.max == float(values.max())
    assert merged.sum == pytest.approx(math.fsum(values.tolist()), rel=1e-12)
    assert merged.max_centroids == DEFAULT_MAX_CENTROIDS
    assert batch.merged() is merged  # merged once, then shared
    with pytest.raises(RuntimeError, match="merged already"):
        batch.add_wire(parts[0].to_wire())


@pytest.mark.parametrize("parts", [2, 9, 64, 256])
def test_tree_merge_stays_within_one_percent(lognormal: np.ndarray, parts: int) -> None:
    """Every shape of the merge tree (one call, leaves at full or reduced resolution,
    several upper levels) keeps the quantiles of a single digest's accuracy."""
    merged = _merged(lognormal, parts)
    assert merged.count == lognormal.size
    assert len(merged.centroids()) <= DEFAULT_MAX_CENTROIDS + 1
    for q in (*QUANTILES, 0.999):
        exact = float(np.percentile(lognormal, q * 100))
        assert merged.quantile(q) == pytest.approx(exact, rel=0.01), (parts, q)


@pytest.mark.parametrize("parts", [64, 256])
def test_tree_merge_bimodal_ranks_within_a_tenth_of_a_point(
    bimodal: tuple[np.ndarray, np.ndarray, np.ndarray], parts: int
) -> None:
    data, _, _ = bimodal
    merged = _merged(data, parts)
    ordered = np.sort(data)
    for q in (0.1, 0.25, 0.75, 0.9, 0.95, 0.99, 0.999):
        rank = np.searchsorted(ordered, merged.quantile(q), side="right") / ordered.size
        assert abs(rank - q) <= 0.001, (parts, q, rank)


def test_tree_merge_does_not_touch_its_inputs() -> None:
    parts = [_digest(np.arange(i * 100, i * 100 + 100, dtype=float)) for i in range(20)]
    before = [p.centroids() for p in parts]
    merge_all(parts)
    assert [p.centroids() for p in parts] == before
