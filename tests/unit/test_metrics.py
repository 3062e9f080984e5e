"""Metric sinks and MetricStore: values, deltas, merge laws (hypothesis), aggregate by selector.

Pure: no Ray, no network, no sleeping, no wall-clock limits. Values are multiples of 1/8
so every sum is exact in floating point and merge order cannot change it.
"""

from __future__ import annotations

import itertools
import math
import pickle
import random
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veza_ray.core import metrics as metrics_mod
from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, Tags, make_tags
from veza_ray.core.metrics import (
    CounterSink,
    GaugeSink,
    MetricStore,
    RateSink,
    TrendSink,
    new_sink,
    trend_stat,
)
from veza_ray.core.wire import decode_delta, encode_delta

DEFS: dict[str, MetricDef] = {
    **BUILTIN_METRICS,
    "c": MetricDef("c", MetricType.COUNTER),
    "g": MetricDef("g", MetricType.GAUGE),
    "r": MetricDef("r", MetricType.RATE),
    "t": MetricDef("t", MetricType.TREND),
}
KINDS = {"c": MetricType.COUNTER, "r": MetricType.RATE, "t": MetricType.TREND}

exact_values = st.integers(min_value=0, max_value=80_000).map(lambda n: n / 8)
tag_sets = st.sampled_from(
    [
        (),
        (("scenario", "browse"),),
        (("scenario", "upload"),),
        (("method", "GET"), ("scenario", "browse")),
        (("method", "POST"), ("scenario", "browse")),
        (("method", "GET"), ("scenario", "upload"), ("status", "200")),
    ]
)
samples = st.lists(
    st.tuples(st.sampled_from(sorted(KINDS)), tag_sets, exact_values), min_size=1, max_size=120
)


def _record(store: MetricStore, items: list[tuple[str, Tags, float]]) -> None:
    for name, tags, value in items:
        store.sink(name, tags).add(value)


def _facts(store: MetricStore) -> dict[tuple[str, Tags], tuple[float, ...]]:
    """The exact numbers of every non-empty series: what merge laws must preserve."""
    out: dict[tuple[str, Tags], tuple[float, ...]] = {}
    for key, s in store.series.items():
        if s.empty():
            continue
        if isinstance(s, CounterSink):
            out[key] = (s.total,)
        elif isinstance(s, RateSink):
            out[key] = (s.passes, s.total)
        elif isinstance(s, TrendSink):
            s.flush()
            d = s.digest
            out[key] = (d.count, d.sum, d.min, d.max)
        else:
            out[key] = (s.value, s.min, s.max)
    return out


def _quantiles(store: MetricStore) -> dict[tuple[str, Tags], list[float]]:
    return {
        key: [s.digest.quantile(q) for q in (0.5, 0.9, 0.99)]
        for key, s in store.series.items()
        if isinstance(s, TrendSink) and not s.empty()
    }


# --------------------------------------------------------------------------- sinks


def test_counter_values_and_rate() -> None:
    s = CounterSink()
    for v in (1, 2, 3.5):
        s.add(v)
    assert s.values(2.0) == {"count": 6.5, "rate": 3.25}
    assert CounterSink().values(0.0) == {"count": 0.0, "rate": 0.0}


def test_rate_counts_nonzero_as_passes() -> None:
    s = RateSink()
    for v in (1, 0, True, False, 0.5, 0):
        s.add(v)
    assert s.values(1.0) == {"rate": 0.5, "passes": 3.0, "fails": 3.0}
    assert RateSink().values(1.0) == {"rate": 0.0, "passes": 0.0, "fails": 0.0}


def test_gauge_keeps_newest_by_stamp_with_min_and_max() -> None:
    s = GaugeSink()
    s.add(5.0, stamp=2.0)
    s.add(9.0, stamp=1.0)  # older: not the value, but counts for max
    s.add(1.0, stamp=3.0)
    assert s.values(1.0) == {"value": 1.0, "min": 1.0, "max": 9.0}
    assert GaugeSink().values(1.0) == {"value": 0.0, "min": 0.0, "max": 0.0}


def test_gauge_merge_takes_the_newer_side() -> None:
    a, b = GaugeSink(), GaugeSink()
    a.add(10.0, stamp=5.0)
    b.add(3.0, stamp=4.0)
    a.merge(b)
    assert a.values(1.0) == {"value": 10.0, "min": 3.0, "max": 10.0}
    c = GaugeSink()
    c.merge(GaugeSink())  # an empty gauge changes nothing
    assert c.empty()
    c.merge(a)
    assert c.values(1.0) == {"value": 10.0, "min": 3.0, "max": 10.0}


def test_trend_values_use_summary_stat_names() -> None:
    s = TrendSink()
    for v in (1.0, 2.0, 3.0, 4.0):
        s.add(v)
    vals = s.values(1.0, ("avg", "min", "med", "max", "count", "p(90)", "p(95)", "p(99.9)"))
    assert vals == pytest.approx(
        {
            "avg": 2.5,
            "min": 1.0,
            "med": 2.5,
            "max": 4.0,
            "count": 4.0,
            "p(90)": 3.7,
            "p(95)": 3.85,
            "p(99.9)": 3.997,
        }
    )
    assert s.values(1.0) == pytest.approx(
        {"avg": 2.5, "min": 1.0, "med": 2.5, "max": 4.0, "p(90)": 3.7, "p(95)": 3.85}
    )


def test_empty_trend_reports_zeros() -> None:
    vals = TrendSink().values(1.0, ("avg", "min", "med", "max", "count", "p(95)"))
    assert vals == {"avg": 0.0, "min": 0.0, "med": 0.0, "max": 0.0, "count": 0.0, "p(95)": 0.0}


def test_unknown_trend_stat_raises() -> None:
    s = TrendSink()
    s.add(1.0)
    s.flush()
    with pytest.raises(ValueError, match="p99"):
        trend_stat(s.digest, "p99")


@pytest.mark.parametrize("kind", list(MetricType))
def test_new_sink_kind(kind: MetricType) -> None:
    sink = new_sink(kind)
    assert sink.kind is kind
    assert sink.empty()


def test_sink_wire_round_trips() -> None:
    c = CounterSink()
    c.add(3.0)
    g = GaugeSink()
    g.add(2.0, stamp=7.0)
    r = RateSink()
    r.add(1)
    r.add(0)
    t = TrendSink()
    t.add(4.0)
    t.add(8.0)
    for s in (c, g, r, t):
        wire = orjson.loads(orjson.dumps(s.to_wire()))
        back = type(s).from_wire(wire)
        assert back.values(2.0) == s.values(2.0)


# --------------------------------------------------------------------------- store


def test_sink_for_unknown_metric_raises_keyerror() -> None:
    with pytest.raises(KeyError):
        MetricStore(DEFS).sink("nope", ())


def test_drain_returns_delta_and_resets_in_place() -> None:
    store = MetricStore(DEFS)
    hot = store.sink("c", (("scenario", "a"),))
    hot.add(2.0)
    trend = store.sink("t", ())
    trend.add(5.0)
    first = store.drain()
    assert sorted(item["m"] for item in first) == ["c", "t"]
    counter_item = next(i for i in first if i["m"] == "c")
    assert counter_item["t"] == (("scenario", "a"),)  # the store's own key: pickle keeps it
    assert counter_item["s"] == {"total": 2.0}
    # Everything drained: the next drain is empty, and held references still work.
    assert store.drain() == []
    hot.add(1.0)
    assert store.drain() == [{"m": "c", "t": (("scenario", "a"),), "s": {"total": 1.0}}]


def test_drain_wire_survives_orjson() -> None:
    store = MetricStore(DEFS)
    store.sink("c", (("a", "1"),)).add(1.0)
    store.sink("g", ()).add(3.0, stamp=1.0)
    store.sink("r", ()).add(1)
    store.sink("t", ()).add(12.5)
    wire = store.drain()
    driver = MetricStore(DEFS)
    driver.merge_wire(orjson.loads(orjson.dumps(wire)))
    assert driver.sink("c", (("a", "1"),)).values(1.0)["count"] == 1.0
    assert driver.sink("g", ()).values(1.0)["value"] == 3.0
    assert driver.sink("r", ()).values(1.0)["rate"] == 1.0
    assert driver.sink("t", ()).values(1.0, ("max",)) == {"max": 12.5}


def test_merge_wire_of_empty_delta_changes_nothing() -> None:
    store = MetricStore(DEFS)
    store.merge_wire([])
    assert store.series == {}


def _via(wire: list, codec: str) -> list:
    """A drained delta as the driver receives it: JSON (tools, older actors) or a pull."""
    if codec == "json":
        return orjson.loads(orjson.dumps(wire))
    return pickle.loads(pickle.dumps(wire, protocol=5))  # as a pull carries them


@settings(deadline=None, max_examples=120)
@given(
    items=samples,
    cuts=st.lists(st.integers(0, 120), max_size=6),
    seed=st.integers(0, 2**32),
    codec=st.sampled_from(["json", "pull", "pull-binary"]),
)
def test_drain_then_merge_equals_recording_directly(
    items: list[tuple[str, Tags, float]], cuts: list[int], seed: int, codec: str
) -> None:
    """An actor drained at any points, merged on a driver in any order = one big process,
    whichever form the digests travel in."""
    direct = MetricStore(DEFS)
    _record(direct, items)

    actor = MetricStore(DEFS)
    actor.binary_digests = codec == "pull-binary"
    deltas = []
    bounds = sorted({0, len(items), *(min(c, len(items)) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        _record(actor, items[lo:hi])
        deltas.append(_via(actor.drain(), codec))
    random.Random(seed).shuffle(deltas)
    driver = MetricStore(DEFS)
    for delta in deltas:
        driver.merge_wire(delta)

    assert _facts(driver) == _facts(direct)
    got, want = _quantiles(driver), _quantiles(direct)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9)


@settings(deadline=None, max_examples=120)
@given(
    items=samples,
    actors=st.integers(1, 5),
    assign_seed=st.integers(0, 2**32),
    order_seed=st.integers(0, 2**32),
)
def test_merge_is_associative_and_commutative(
    items: list[tuple[str, Tags, float]], actors: int, assign_seed: int, order_seed: int
) -> None:
    """Samples spread over actors, merged flat, in reverse, or pairwise in a tree: all equal."""
    rng = random.Random(assign_seed)
    stores = [MetricStore(DEFS) for _ in range(actors)]
    for item in items:
        _record(stores[rng.randrange(actors)], [item])
    wires = [s.drain() for s in stores]

    def fresh(parts: list[list]) -> MetricStore:
        out = MetricStore(DEFS)
        for w in parts:
            out.merge_wire(w)
        return out

    flat = fresh(wires)
    backwards = fresh(wires[::-1])
    shuffled = list(wires)
    random.Random(order_seed).shuffle(shuffled)
    # tree: neighbours drained into intermediate stores (as a per-node aggregator would
    # hand its merged delta on), then those into a root
    level = [fresh([w]) for w in shuffled]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            node = MetricStore(DEFS)
            for s in level[i : i + 2]:
                node.merge_wire(s.drain())
            nxt.append(node)
        level = nxt
    tree = level[0]

    direct = MetricStore(DEFS)
    _record(direct, items)
    expected = _facts(direct)
    for merged in (flat, backwards, tree):
        assert _facts(merged) == expected
        for key, qs in _quantiles(direct).items():
            assert _quantiles(merged)[key] == pytest.approx(qs, rel=1e-9, abs=1e-9)


@settings(deadline=None, max_examples=150)
@given(
    items=samples,
    selector=st.sampled_from(
        [
            (),
            (("scenario", "browse"),),
            (("method", "GET"),),
            (("method", "GET"), ("scenario", "upload")),
            (("status", "500"),),
        ]
    ),
    name=st.sampled_from(sorted(KINDS)),
)
def test_aggregate_merges_exactly_the_superset_series(
    items: list[tuple[str, Tags, float]], selector: Tags, name: str
) -> None:
    store = MetricStore(DEFS)
    _record(store, items)
    chosen = [v for n, tags, v in items if n == name and set(selector) <= set(tags)]
    agg = store.aggregate(name, selector)
    if not any(n == name and set(selector) <= set(t) for n, t in store.series):
        assert agg is None
        return
    assert agg is not None
    assert agg.kind is KINDS[name]
    if name == "c":
        assert agg.values(1.0)["count"] == math.fsum(chosen)
    elif name == "r":
        assert agg.values(1.0) == {
            "rate": pytest.approx(sum(1 for v in chosen if v) / len(chosen)),
            "passes": float(sum(1 for v in chosen if v)),
            "fails": float(sum(1 for v in chosen if not v)),
        }
    else:
        vals = agg.values(1.0, ("count", "min", "max", "avg", "p(90)"))
        assert vals["count"] == len(chosen)
        assert vals["min"] == min(chosen)
        assert vals["max"] == max(chosen)
        assert vals["avg"] == pytest.approx(math.fsum(chosen) / len(chosen))
        assert vals["p(90)"] == pytest.approx(float(np.percentile(chosen, 90)), abs=1e-9)


def test_aggregate_unknown_metric_and_no_match() -> None:
    store = MetricStore(DEFS)
    store.sink("c", (("scenario", "a"),)).add(1.0)
    assert store.aggregate("nope") is None
    assert store.aggregate("c", (("scenario", "b"),)) is None
    assert store.aggregate("t") is None


def test_aggregate_does_not_mutate_the_series() -> None:
    store = MetricStore(DEFS)
    store.sink("c", make_tags({"scenario": "a"})).add(2.0)
    store.sink("c", make_tags({"scenario": "b"})).add(3.0)
    assert store.aggregate("c").values(1.0)["count"] == 5.0
    assert store.aggregate("c").values(1.0)["count"] == 5.0
    assert store.sink("c", make_tags({"scenario": "a"})).values(1.0)["count"] == 2.0


def test_gauge_across_drains_keeps_last_value_and_extremes() -> None:
    actor = MetricStore(DEFS)
    driver = MetricStore(DEFS)
    g = actor.sink("g", ())
    g.add(4.0, stamp=1.0)
    g.add(9.0, stamp=2.0)
    driver.merge_wire(actor.drain())
    g.add(2.0, stamp=3.0)
    driver.merge_wire(actor.drain())
    assert driver.sink("g", ()).values(1.0) == {"value": 2.0, "min": 2.0, "max": 9.0}


def test_names_lists_metrics_with_series() -> None:
    store = MetricStore(DEFS)
    store.sink("t", ()).add(1.0)
    store.sink("c", (("a", "1"),)).add(1.0)
    store.sink("c", ()).add(1.0)
    assert store.names() == ["c", "t"]


# --------------------------------------------------------------------------- driver rounds


def _actor_deltas(rng: np.random.Generator, actors: int, n: int) -> tuple[list, np.ndarray]:
    """One pull round: each actor's binary delta for trend "t" (two tag sets) and counter "c"."""
    deltas, raw = [], []
    for _ in range(actors):
        store = MetricStore(DEFS, 200)
        store.binary_digests = True
        for tags in ((("scenario", "a"),), (("scenario", "b"),)):
            values = rng.lognormal(3.0, 0.6, n)
            raw.append(values)
            sink = store.sink("t", tags)
            assert isinstance(sink, TrendSink)
            sink.buffer.extend(values.tolist())
            store.sink("c", tags).add(float(n))
        deltas.append(pickle.loads(pickle.dumps(store.drain(), protocol=5)))
    return deltas, np.concatenate(raw)


def _trend(store: MetricStore) -> TrendSink:
    agg = store.aggregate("t")
    assert isinstance(agg, TrendSink)
    return agg


def test_rounds_merge_exactly_into_total_and_interval() -> None:
    """64 actors a round: the cumulative and the interval stores take the same round (one
    merge, shared), count/sum/min/max exact and quantiles within 1 % of numpy's."""
    rng = np.random.default_rng(5)
    total = MetricStore(DEFS)
    seen: list[np.ndarray] = []
    key = ("t", (("scenario", "a"),))
    for _ in range(3):
        interval = MetricStore(DEFS)
        deltas, raw = _actor_deltas(rng, 64, 500)
        seen.append(raw)
        for d in deltas:
            total.merge_wire(d, interval, frozenset({"t", "c"}))
        mine, theirs = total.series[key], interval.series[key]
        assert isinstance(mine, TrendSink) and isinstance(theirs, TrendSink)
        assert len(mine.pending) == len(theirs.pending) == 1
        batch = mine.pending[0]
        assert theirs.pending[0] is batch and len(batch) == 64
        total.end_round()
        assert batch.closed and not mine.pending
        for store, values in ((interval, raw), (total, np.concatenate(seen))):
            d = _trend(store).digest
            assert d.count == values.size
            assert d.min == float(values.min())
            assert d.max == float(values.max())
            assert d.sum == pytest.approx(math.fsum(values.tolist()), rel=1e-12)
            for q in (0.5, 0.9, 0.99, 0.999):
                assert d.quantile(q) == pytest.approx(np.quantile(values, q), rel=0.01)
            counter = store.aggregate("c")
            assert counter is not None
            assert counter.values(1.0)["count"] == float(values.size)


def test_a_read_between_merges_sees_everything_so_far() -> None:
    rng = np.random.default_rng(6)
    total = MetricStore(DEFS)
    first, raw1 = _actor_deltas(rng, 3, 100)
    second, raw2 = _actor_deltas(rng, 3, 100)
    for d in first:
        total.merge_wire(d)
    assert _trend(total).digest.count == raw1.size  # read mid-round: the batch is merged
    for d in second:
        total.merge_wire(d)  # a new batch opens after the merged one
    assert _trend(total).digest.count == raw1.size + raw2.size
    assert _trend(total).digest.max == float(max(raw1.max(), raw2.max()))


def test_a_new_interval_store_gets_only_its_own_round() -> None:
    rng = np.random.default_rng(7)
    total = MetricStore(DEFS)
    old = MetricStore(DEFS)
    deltas, raw1 = _actor_deltas(rng, 4, 50)
    for d in deltas:
        total.merge_wire(d, old, frozenset({"t"}))
    total.end_round()
    new = MetricStore(DEFS)
    deltas, raw2 = _actor_deltas(rng, 4, 50)
    for d in deltas:
        total.merge_wire(d, new, frozenset({"t"}))
    assert _trend(old).digest.count == raw1.size
    assert _trend(new).digest.count == raw2.size
    assert _trend(total).digest.count == raw1.size + raw2.size


def test_a_store_nobody_reads_folds_in_bounded_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_mod, "MAX_ROUND_DIGESTS", 4)
    rng = np.random.default_rng(8)
    total = MetricStore(DEFS)
    deltas, raw = _actor_deltas(rng, 10, 20)
    for d in deltas:
        total.merge_wire(d)
    sink = total.series[("t", (("scenario", "a"),))]
    assert isinstance(sink, TrendSink)
    assert [b.closed for b in sink.pending] == [True, True, False]
    assert _trend(total).digest.count == raw.size


def test_decode_delta_reads_pickle_and_older_json() -> None:
    delta: dict[str, Any] = {
        "series": [{"m": "c", "t": (("a", "1"),), "s": {"total": 1.0}}],
        "scenarios": {},
        "errors": {},
        "lag_ms": [],
        "cpu": 0.0,
        "wall": 1.0,
        "done": False,
        "started": True,
        "end": None,
    }
    assert decode_delta(encode_delta(delta)) == delta  # type: ignore[arg-type]
    assert decode_delta(orjson.dumps(delta)) == {
        **delta,
        "series": [{"m": "c", "t": [["a", "1"]], "s": {"total": 1.0}}],
    }


@pytest.mark.skipif(not BINARY_FORMAT, reason="this fastdigest has no to_bytes")
def test_binary_drain_ships_bytes_and_the_default_ships_dicts() -> None:
    store = MetricStore(DEFS)
    store.sink("t", ()).add(3.0)
    (plain,) = store.drain()
    assert "bin" not in plain["s"]["digest"]
    assert plain["s"]["digest"]["centroids"] == [{"m": 3.0, "c": 1.0}]
    store.binary_digests = True
    store.sink("t", ()).add(3.0)
    (binary,) = store.drain()
    assert binary["s"]["digest"]["fmt"] == BINARY_FORMAT
    assert binary["s"]["digest"]["centroids"] == []
