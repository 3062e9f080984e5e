"""One veza-ray runner in this process (no Ray): what one actor does, minus Ray's plumbing.

    python -m bench.vr_inproc SCRIPT [-e NAME=VALUE ...] [--loop uvloop|asyncio]
                              [--patch NAME ...] [--out result.json]

Builds the runner exactly as the actor does (``veza_ray.engine.runner.build_runner``), pulls a
delta every second and serialises it as ``LoadActor.pull`` does (``encode_delta``), merges the
deltas as the driver does, and prints one JSON line: requests, req/s over the scenario
duration, the CPU share of this process over the run, RSS before the VUs start and at its
peak, and http_req_duration percentiles from the merged digests.

``--loop uvloop`` is what a Ray worker gets (Ray installs uvloop when it is present); a
plain ``asyncio.run`` gets the default loop. ``--patch`` applies candidate changes from
bench/patches.py (monkeypatched copies of veza_ray code, for measuring a fix before
anyone edits veza_ray/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time


def _rss_kb(key: str) -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return 0.0


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="python -m bench.vr_inproc")
    p.add_argument("script")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--patch", action="append", default=[])
    p.add_argument("--out")
    args = p.parse_args(argv)

    if args.patch:
        from bench import patches

        patches.apply(args.patch)

    from veza_ray.core.metrics import MetricStore, TrendSink
    from veza_ray.core.options import parse_options
    from veza_ray.core.plan import make_plan
    from veza_ray.core.wire import decode_delta, encode_delta
    from veza_ray.engine.runner import build_runner
    from veza_ray.engine.scenario import load_script

    env = dict(kv.split("=", 1) for kv in args.env)
    script = load_script(args.script, env)
    options = parse_options(script.raw_options)
    plan = make_plan(options.scenarios, 1)
    runner = build_runner(script, options, plan[0], env, log=lambda m: None)
    duration = max(sc.start_time + sc.run_duration for sc in options.scenarios)
    vus = sum(seg.max_vus for seg in plan[0])

    import gc

    gc_time = [0.0, 0.0]
    gc_count = [0, 0, 0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]
            gc_count[info["generation"]] += 1

    gc.callbacks.append(on_gc)

    async def go() -> dict[str, object]:
        merged = MetricStore(runner.store.defs)
        runner.store.binary_digests = True  # what LoadActor.pull sends a matching driver
        rss_before = _rss_kb("VmRSS")
        start = runner.clock.now() + 0.2
        task = asyncio.create_task(runner.run(start))
        c0, w0 = time.process_time(), time.monotonic()
        pulls = 0
        lags: list[float] = []
        while not task.done() and pulls < 10_000:
            await asyncio.sleep(1.0)
            delta = decode_delta(encode_delta(runner.snapshot()))
            lags.extend(delta["lag_ms"])
            merged.merge_wire(delta["series"])
            pulls += 1
        await task
        c1, w1 = time.process_time(), time.monotonic()
        merged.merge_wire(runner.snapshot()["series"])
        reqs = merged.aggregate("http_reqs")
        n = reqs.values(1.0)["count"] if reqs is not None else 0.0
        dur = merged.aggregate("http_req_duration")
        pct: dict[str, float] = {}
        if isinstance(dur, TrendSink) and not dur.empty():
            pct = {
                "p50": dur.digest.quantile(0.5),
                "p95": dur.digest.quantile(0.95),
                "p99": dur.digest.quantile(0.99),
                "avg": dur.digest.avg,
            }
        failed = merged.aggregate("http_req_failed")
        lags.sort()
        return {
            "requests": n,
            "rps": n / duration if duration else 0.0,
            "duration_s": duration,
            "vus": vus,
            "cpu_share": (c1 - c0) / (w1 - w0) if w1 > w0 else None,
            "cpu_s": c1 - c0,
            "wall_s": w1 - w0,
            "rss_before_kb": rss_before,
            "peak_rss_kb": _rss_kb("VmHWM"),
            "failed_rate": failed.values(1.0)["rate"] if failed is not None else None,
            "loop_lag_p99_ms": lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0,
            "loop": type(asyncio.get_running_loop()).__module__,
            "gc_s": gc_time[0],
            "gc_collections": list(gc_count),
            "patches": args.patch,
            **pct,
        }

    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(go())
    else:
        result = asyncio.run(go())
    line = json.dumps(result)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(line + "\n")
    print(line, flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
