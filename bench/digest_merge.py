"""Case 4: digest accuracy and the driver's once-a-second merge, at 16 and 64 actors.

    python -m bench.digest_merge [--reps 3] [--per-series 200,2000] [--actors 16,64]
                                [--patch NAME]

Each simulated actor is a real ``MetricStore`` holding ~50 series, the shape an actor has
with 5 request names: per name 7 http trends + http_reqs + http_req_failed (45), plus
iteration_duration, iterations, checks, data_sent, data_received (50). Each interval it
records ``--per-series`` (200 and 2000 by default) lognormal latencies per trend
series (the hot path appends to lists), then ``drain()`` folds them into digests and
emits wire dicts (fastdigest bytes: the driver reads our format), serialised with
``encode_delta`` as ``LoadActor.pull`` does. The driver's work is timed as the driver
does it: ``decode_delta`` of every actor's bytes, ``MergedRun.merge`` per actor, then
``close_interval`` (which merges each series' round of digests once, for the cumulative
and interval stores, and writes the per-scenario series point). Its share of one core at
one pull a second is the median round time / 1 s (``core_share_at_1hz``, wall clock;
``core_share_cpu_at_1hz`` from the thread's CPU time, steadier on a busy machine).

Accuracy: the merged cumulative ``http_req_duration`` (every actor, every interval)
against numpy's exact percentiles of all the raw values.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS, make_tags
from veza_ray.core.metrics import CounterSink, MetricStore, RateSink, TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.wire import decode_delta, encode_delta

NAMES = ["browse_search", "browse_list", "browse_detail", "hls_segment", "checkout_create"]
HTTP_TRENDS = [
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
    "http_req_tls_handshaking",
]
QS = [0.5, 0.9, 0.95, 0.99, 0.999]


def actor_store_args() -> tuple[int, ...]:
    """The actor's store as veza_ray.engine.runner.Runner builds it: with DELTA_MAX_CENTROIDS
    (read now, so a patch can change it), per-interval deltas use smaller digests."""
    import veza_ray.core.digest as dg

    delta = getattr(dg, "DELTA_MAX_CENTROIDS", None)
    return (delta,) if delta else ()


def actor_store(
    rng: np.random.Generator, per_series: int, sink_out: list[np.ndarray]
) -> MetricStore:
    """One actor's interval: ~50 series filled the way the hot path fills them."""
    store = MetricStore(BUILTIN_METRICS, *actor_store_args())
    store.binary_digests = bool(BINARY_FORMAT)  # as LoadActor.pull sets it for our driver
    base = {"scenario": "mix"}
    for i, name in enumerate(NAMES):
        tags = make_tags(
            {**base, "name": name, "method": "GET", "status": "200", "expected_response": "true"}
        )
        # Different shapes per name: a lognormal body, and a slow tail on one name.
        dur = rng.lognormal(mean=1.5 + 0.3 * i, sigma=0.6, size=per_series)
        if name == "checkout_create":
            tail = rng.random(per_series) < 0.02
            dur[tail] += rng.lognormal(mean=6.0, sigma=0.3, size=int(tail.sum()))
        sink_out.append(dur)
        # The phases as a keep-alive run shows them: waiting is most of the duration,
        # sending and receiving are small and continuous, and blocked/connecting/TLS are
        # zero except on the rare request that opened a connection.
        sending = rng.lognormal(mean=-4.0, sigma=0.5, size=per_series)
        receiving = rng.lognormal(mean=-3.0, sigma=0.7, size=per_series)
        waiting = np.maximum(dur - sending - receiving, 0.0)
        opened = rng.random(per_series) < 0.001
        connecting = np.where(opened, rng.lognormal(-1.0, 0.3, size=per_series), 0.0)
        phases = {
            "http_req_duration": dur,
            "http_req_waiting": waiting,
            "http_req_sending": sending,
            "http_req_receiving": receiving,
            "http_req_connecting": connecting,
            "http_req_blocked": connecting * 1.05,
            "http_req_tls_handshaking": np.zeros(per_series),
        }
        for metric in HTTP_TRENDS:
            s = store.sink(metric, tags)
            assert isinstance(s, TrendSink)
            s.buffer.extend(phases[metric].tolist())
        reqs = store.sink("http_reqs", tags)
        failed = store.sink("http_req_failed", tags)
        assert isinstance(reqs, CounterSink) and isinstance(failed, RateSink)
        reqs.total += per_series
        failed.total += per_series
    btags = make_tags(base)
    it = store.sink("iteration_duration", btags)
    assert isinstance(it, TrendSink)
    it.buffer.extend(rng.lognormal(2.0, 0.5, size=per_series).tolist())
    store.sink("iterations", btags).total += per_series  # type: ignore[union-attr]
    chk = store.sink("checks", make_tags({**base, "check": "status 200"}))
    assert isinstance(chk, RateSink)
    chk.total += per_series
    chk.passes += per_series
    store.sink("data_sent", btags).total += 100.0 * per_series  # type: ignore[union-attr]
    store.sink("data_received", btags).total += 500.0 * per_series  # type: ignore[union-attr]
    return store


def run(actors: int, rounds: int, per_series: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    options = parse_options(
        {"scenarios": {"mix": {"executor": "constant-vus", "vus": actors, "duration": "10s"}}}
    )
    plan = make_plan(options.scenarios, actors)
    state = MergedRun(options, dict(BUILTIN_METRICS), plan)
    for i in range(actors):
        state.add_actor(i, {"address": "127.0.0.1", "node_id": "n", "pid": i}, plan[i])
    raw: list[np.ndarray] = []
    driver_s: list[float] = []
    driver_cpu_s: list[float] = []
    actor_drain_s: list[float] = []
    wire_bytes = 0
    series_per_actor = 0
    for rnd in range(rounds):
        payloads = []
        for _ in range(actors):
            store = actor_store(rng, per_series, raw)
            series_per_actor = len(store.series)
            t0 = time.perf_counter()
            delta = {
                "series": store.drain(),
                "scenarios": {
                    "mix": {"active": 1, "allocated": 1, "iterations": per_series, "dropped": 0}
                },
                "errors": {},
                "lag_ms": [0.5] * 10,
                "cpu": 0.5,
                "wall": time.time(),
                "done": False,
                "started": True,
            }
            payloads.append(encode_delta(delta))
            actor_drain_s.append(time.perf_counter() - t0)
        wire_bytes = sum(len(p) for p in payloads)
        t0, c0 = time.perf_counter(), time.thread_time()
        for a, p in enumerate(payloads):
            state.merge(a, decode_delta(p))
        state.close_interval(float(rnd + 1), 1.0)
        driver_s.append(time.perf_counter() - t0)
        driver_cpu_s.append(time.thread_time() - c0)
    merged = state.total.aggregate("http_req_duration")
    assert isinstance(merged, TrendSink)
    exact_all = np.concatenate(raw)
    acc = {}
    for q in QS:
        est = merged.digest.quantile(q)
        exact = float(np.quantile(exact_all, q))
        acc[f"p({q * 100:g})"] = {
            "digest": est,
            "exact": exact,
            "rel_error": abs(est - exact) / exact,
        }
    # The worst series alone too: checkout_create, with its 2 % slow tail (bimodal).
    sel = state.total.aggregate("http_req_duration", (("name", "checkout_create"),))
    assert isinstance(sel, TrendSink)
    co = np.concatenate(raw[len(NAMES) - 1 :: len(NAMES)])
    acc_co = {}
    for q in QS:
        est, exact = sel.digest.quantile(q), float(np.quantile(co, q))
        acc_co[f"p({q * 100:g})"] = {
            "digest": est,
            "exact": exact,
            "rel_error": abs(est - exact) / exact,
        }
    steady = driver_s[1:] or driver_s
    steady_cpu = driver_cpu_s[1:] or driver_cpu_s
    return {
        "actors": actors,
        "series_per_actor": series_per_actor,
        "values_per_trend_series_per_interval": per_series,
        "rounds": rounds,
        "wire_bytes_per_round": wire_bytes,
        "driver_round_s": driver_s,
        "driver_round_median_s": statistics.median(steady),
        "core_share_at_1hz": statistics.median(steady) / 1.0,
        # CPU time of the same rounds: what other processes on a shared box cannot inflate.
        "driver_round_cpu_s": driver_cpu_s,
        "core_share_cpu_at_1hz": statistics.median(steady_cpu) / 1.0,
        "actor_drain_median_s": statistics.median(actor_drain_s),
        "samples_total": int(exact_all.size),
        "accuracy_all": acc,
        "accuracy_checkout_bimodal": acc_co,
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.digest_merge")
    p.add_argument("--reps", type=int, default=3, help="timed rounds after the first")
    p.add_argument(
        "--per-series",
        default="200,2000",
        help="values per trend series per interval, comma-separated",
    )
    p.add_argument(
        "--patch",
        action="append",
        default=[],
        help="candidate changes from bench/patches.py (wire_bin: no-op now, delta_100)",
    )
    p.add_argument("--actors", default="16,64")
    args = p.parse_args()
    if args.patch:
        from bench import patches

        patches.apply(args.patch)
    counts = [int(x) for x in args.actors.split(",")]
    pers = [int(x) for x in args.per_series.split(",")]
    out = {
        "patches": args.patch,
        "rows": [run(n, args.reps + 1, per, seed=n) for per in pers for n in counts],
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
