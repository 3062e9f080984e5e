"""core/series.py: the per-interval series stays bounded over a 12-hour run, and a
compacted bucket is the merge of the intervals it replaced (digests, not percentiles)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from veza_ray.core.digest import DELTA_MAX_CENTROIDS, Digest, DigestBatch
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.core.metrics import MetricStore, TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.series import ALL, MAX_POINTS, RECENT_POINTS, IntervalSeries, ScopeCounts
from veza_ray.core.wire import decode_delta, encode_delta

TWELVE_HOURS = 43_200
SUMMARY_BOUND_BYTES = 1_000_000  # the whole summary of a 12-hour, one-scenario run


def _delta(values: np.ndarray, failed: int) -> bytes:
    store = MetricStore(BUILTIN_METRICS, DELTA_MAX_CENTROIDS)
    tags = (("name", "x"), ("scenario", "c"))
    sink = store.sink("http_req_duration", tags)
    assert isinstance(sink, TrendSink)
    sink.buffer.extend(values.tolist())
    store.sink("http_reqs", tags).add(float(values.size))
    rate = store.sink("http_req_failed", tags)
    for i in range(values.size):
        rate.add(1.0 if i < failed else 0.0)
    return encode_delta(
        {
            "series": store.drain(),
            "scenarios": {
                "c": {"active": 2, "allocated": 2, "iterations": 1, "dropped": 0, "undelivered": 0}
            },
            "errors": {},
            "lag_ms": [0.1],
            "cpu": 0.1,
            "wall": 0.0,
            "done": False,
            "started": True,
            "end": None,
        }
    )


def test_twelve_hours_of_intervals_stay_bounded_and_buckets_merge_digests() -> None:
    opts = parse_options(
        {"scenarios": {"c": {"executor": "constant-vus", "vus": 2, "duration": "12h"}}}
    )
    run = MergedRun(opts, BUILTIN_METRICS, make_plan(opts.scenarios, 1))
    run.add_actor(0, {"node_id": "n", "address": "10.0.0.1", "pid": 1}, run.plan[0])
    rng = np.random.default_rng(5)
    raw: list[np.ndarray] = []
    longest = 0
    for i in range(TWELVE_HOURS):
        # latency drifts over the run, so buckets at different times differ
        values = rng.lognormal(2.0 + i / TWELVE_HOURS, 0.5, 12)
        raw.append(values)
        run.merge(0, decode_delta(_delta(values, failed=1 if i % 10 == 0 else 0)))
        run.close_interval(float(i + 1), 1.0)
        longest = max(longest, len(run.timeline))
    points = run.series
    assert longest <= MAX_POINTS and len(points) <= MAX_POINTS
    assert sum(p["n"] for p in points) == TWELVE_HOURS  # no interval lost
    assert all(p["n"] == 1 for p in points[-RECENT_POINTS:])  # recent: full resolution
    assert points[-1]["t"] == TWELVE_HOURS
    summary_bytes = len(orjson.dumps(run.extras(0.0, float(TWELVE_HOURS))))
    assert summary_bytes < SUMMARY_BOUND_BYTES, summary_bytes

    # Every compacted bucket: p95/p99 = those of the merged digests of its intervals
    # (within the digests' own error), requests and failures added, rps over its span.
    first = 0
    for point in points:
        n = int(point["n"])
        if n > 1:
            batch = DigestBatch()
            for values in raw[first : first + n]:
                d = Digest(DELTA_MAX_CENTROIDS)
                d.add_many(values.tolist())
                batch.add(d)
            merged = batch.merged()
            exact = np.concatenate(raw[first : first + n])
            got = point["scenarios"]["c"]
            # one compression at BUCKET_CENTROIDS: within 1 % at p95, 2 % at p99
            assert got["p95"] == pytest.approx(merged.quantile(0.95), rel=0.01)
            assert got["p99"] == pytest.approx(merged.quantile(0.99), rel=0.02)
            assert got["p95"] == pytest.approx(float(np.quantile(exact, 0.95)), rel=0.01)
            assert got["reqs"] == exact.size
            assert got["rps"] == pytest.approx(exact.size / point["span_s"])
            failed = sum(1 for j in range(first, first + n) if j % 10 == 0)
            assert got["error_rate"] == pytest.approx(failed / exact.size)
            assert point[ALL]["reqs"] == exact.size
        first += n
    assert any(p["n"] > 1 for p in points)


def test_old_buckets_share_one_width_that_doubles() -> None:
    series = IntervalSeries(recent=4, old=4)
    for i in range(40):
        d = Digest(200)
        d.add_many([float(i)])
        series.add(float(i + 1), 1.0, {"c": ScopeCounts(d, 1.0, 0.0, 1.0, 1.0)})
    widths = [b.n for b in series.buckets()]
    assert len(widths) <= 4 + 4 + 1 and sum(widths) == 40  # recent + old + filling
    assert widths[-4:] == [1, 1, 1, 1]
    old = widths[: len(series.old)]
    assert len(set(old)) == 1 and series.width == old[0] == 8
    # A bucket's max equals the highest value it replaced: digests merged, not averaged.
    first = 0
    for b in series.buckets():
        assert b.scopes["c"].digest.max == float(first + b.n - 1)
        first += b.n
