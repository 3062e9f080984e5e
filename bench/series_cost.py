"""What one series costs: actor bytes, driver bytes, merge time per series per round.

Run: ``python -m bench.series_cost [--tag-sets N ...] [--rounds R]``. For N distinct HTTP
tag sets (one unique URL each, as a script without a ``name`` tag makes them; 9 series
each: 7 trends, http_reqs, http_req_failed) it records one request per tag set per round
through the real recorder (engine/runner.ScenarioRecorder), drains the actor's store as a
pull does, and merges the delta into a driver ``MergedRun`` as ``tick`` does. Bytes are
Python heap bytes held after the rounds (tracemalloc), per series, and the process's RSS
growth per series on each side (which also sees the digests' native memory, which
tracemalloc does not); the merge time is the median round's ``MergedRun.tick`` (the first,
which creates the series, left out; timed in a second pass without tracemalloc) divided by
the series in the delta. ``--no-cap`` sets
the per-metric series limit out of the way to measure the unbounded cost.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from typing import Any

import psutil

from veza_ray.core import cardinality
from veza_ray.core.digest import DELTA_MAX_CENTROIDS
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.core.metrics import MetricStore
from veza_ray.core.options import parse_options
from veza_ray.engine.http import Timings
from veza_ray.engine.runner import ScenarioRecorder


def _record(rec: ScenarioRecorder, n: int, round_: int) -> None:
    t = Timings(sending=0.1, waiting=4.0 + round_, receiving=0.5)
    for i in range(n):
        rec.http("GET", f"http://127.0.0.1:8080/items/{i}", 200, True, 0, (), t, 100, 1000)


def measure(tag_sets: int, rounds: int, limit: int, trace: bool = True) -> dict[str, Any]:
    """One pass: bytes (``trace``: tracemalloc on) or merge time (off: no tracing cost)."""
    options = parse_options({"vus": 1, "duration": "10s"})
    base = {"scenario": "default"}
    gc.collect()
    proc = psutil.Process(os.getpid())
    r0 = proc.memory_info().rss
    if trace:
        tracemalloc.start()
    a0 = tracemalloc.get_traced_memory()[0]
    store = MetricStore(BUILTIN_METRICS, DELTA_MAX_CENTROIDS, max_series_per_metric=limit)
    store.binary_digests = True  # as an actor ships them to a driver of this version
    rec = ScenarioRecorder(store, base)
    _record(rec, tag_sets, 0)
    actor_bytes = tracemalloc.get_traced_memory()[0] - a0
    gc.collect()
    r1 = proc.memory_info().rss
    run = MergedRun(options, BUILTIN_METRICS, [[]], max_series_per_metric=limit)
    d0 = tracemalloc.get_traced_memory()[0]
    times: list[float] = []
    sent = 0
    for r in range(rounds):
        if r:
            _record(rec, tag_sets, r)
        delta: Any = {
            "series": store.drain(), "scenarios": {}, "errors": {}, "lag_ms": [],
            "cpu": 0.0, "wall": time.time(), "done": False, "started": True, "end": None,
        }
        sent = len(delta["series"])
        t0 = time.perf_counter()
        run.tick({0: delta}, {}, float(r), 1.0)
        times.append(time.perf_counter() - t0)
        del delta
    gc.collect()
    driver_bytes = tracemalloc.get_traced_memory()[0] - d0
    tracemalloc.stop()
    r2 = proc.memory_info().rss
    series = len(run.total.series)
    return {
        "tag_sets": tag_sets,
        "actor_series": len(store.series),
        "driver_series": series,
        "actor_bytes_per_series": actor_bytes / max(1, len(store.series)),
        "driver_bytes_per_series": driver_bytes / max(1, series),
        "actor_rss_per_series": (r1 - r0) / max(1, len(store.series)),
        "driver_rss_per_series": (r2 - r1) / max(1, series),
        "merge_us_per_series": statistics.median(times[1:] or times) / max(1, sent) * 1e6,
        "reqs": run.total.aggregate("http_reqs", ()).values(1.0)["count"],  # type: ignore[union-attr]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag-sets", type=int, nargs="+", default=[100, 1000, 4000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-cap", action="store_true")
    args = ap.parse_args()
    limit = 10**9 if args.no_cap else cardinality.MAX_SERIES_PER_METRIC
    print("tag sets | series (actor/driver) | actor B/series | driver B/series | "
          "actor RSS B/series | driver RSS B/series | merge us/series/round | http_reqs")
    for n in args.tag_sets:
        m = measure(n, args.rounds, limit)
        m["merge_us_per_series"] = measure(n, args.rounds, limit, trace=False)[
            "merge_us_per_series"
        ]
        print(
            f"{n:>8} | {m['actor_series']:>6} / {m['driver_series']:<6} | "
            f"{m['actor_bytes_per_series']:>14,.0f} | {m['driver_bytes_per_series']:>15,.0f} | "
            f"{m['actor_rss_per_series']:>18,.0f} | {m['driver_rss_per_series']:>19,.0f} | "
            f"{m['merge_us_per_series']:>21.1f} | {m['reqs']:.0f}"
        )


if __name__ == "__main__":
    main()
