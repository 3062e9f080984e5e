"""The merge tree against the flat merge: the driver's share of a core and the accuracy.

    python -m bench.merge_tree [--actors 64,256,1024] [--nodes 8,16] [--rounds 3]
                               [--per-series 200]

Each simulated actor is ``bench.digest_merge.actor_store``: the seed gate's shape, ~50
series (5 request names x 7 http trends + http_reqs + http_req_failed, plus
iteration_duration, iterations, checks, data_sent, data_received), lognormal latencies
with a 2 % slow tail on one name, drained to fastdigest bytes and pickled with
``encode_delta`` as ``LoadActor.pull`` does. The same payloads go through both paths:

- flat: the driver ``decode_delta``s every actor and ``MergedRun.tick``s them all;
- tree: actors are dealt round-robin to N nodes; each node's aggregator work
  (``decode_delta`` of its actors, ``aggregator.fold_node``, ``encode_node``) is timed
  apart (it runs on that node, in parallel with the others), then the driver
  ``decode_node``s one delta per node, ``split_node``s it and ``tick``s.

The driver's share of a core at one pull a second is the median CPU time (thread time)
of its rounds after the first. Accuracy: the merged cumulative ``http_req_duration``
against numpy's exact quantiles of every raw value.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

from bench.digest_merge import actor_store
from veza_ray.cluster.aggregator import decode_node, encode_node, fold_node, split_node
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS
from veza_ray.core.metrics import TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.wire import ActorDelta, decode_delta, encode_delta

QS = [0.95, 0.99, 0.999]


def _state(actors: int) -> MergedRun:
    options = parse_options(
        {"scenarios": {"mix": {"executor": "constant-vus", "vus": actors, "duration": "10s"}}}
    )
    plan = make_plan(options.scenarios, actors)
    state = MergedRun(options, dict(BUILTIN_METRICS), plan)
    for i in range(actors):
        state.add_actor(i, {"address": "127.0.0.1", "node_id": "n", "pid": i}, plan[i])
    return state


def _payloads(rng: np.random.Generator, actors: int, per: int, raw: list[Any]) -> list[bytes]:
    out = []
    for a in range(actors):
        store = actor_store(rng, per, raw)
        delta: ActorDelta = {
            "series": store.drain(),
            "scenarios": {
                "mix": {
                    "active": 1,
                    "allocated": 1,
                    "iterations": per,
                    "dropped": 0,
                    "undelivered": 0,
                }
            },
            "errors": {},
            "lag_ms": [0.5] * 10,
            "cpu": 0.5,
            "wall": time.time() + a * 1e-6,
            "done": False,
            "started": True,
            "end": None,
        }
        out.append(encode_delta(delta))
    return out


def _accuracy(state: MergedRun, exact: np.ndarray) -> dict[str, float]:
    sink = state.total.aggregate("http_req_duration")
    assert isinstance(sink, TrendSink)
    return {
        f"p({q * 100:g})": abs(sink.digest.quantile(q) - float(np.quantile(exact, q)))
        / float(np.quantile(exact, q))
        for q in QS
    }


def run(actors: int, nodes: list[int], rounds: int, per: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    flat = _state(actors)
    trees = {n: _state(actors) for n in nodes}
    raw: list[Any] = []
    flat_cpu: list[float] = []
    tree_cpu: dict[int, list[float]] = {n: [] for n in nodes}
    agg_cpu: dict[int, list[float]] = {n: [] for n in nodes}
    node_bytes: dict[int, int] = {}
    for rnd in range(rounds + 1):
        payloads = _payloads(rng, actors, per, raw)
        c0 = time.thread_time()
        flat.tick({a: decode_delta(p) for a, p in enumerate(payloads)}, {}, rnd + 1.0, 1.0)
        flat_cpu.append(time.thread_time() - c0)
        for n in nodes:
            node_payloads = []
            per_node = []
            for k in range(n):
                c0 = time.thread_time()
                mine = {a: decode_delta(payloads[a]) for a in range(k, actors, n)}
                nd = fold_node(f"n{k}", mine, {}, BUILTIN_METRICS, binary=True)
                node_payloads.append(encode_node(nd))
                per_node.append(time.thread_time() - c0)
            agg_cpu[n].append(max(per_node))
            node_bytes[n] = sum(len(p) for p in node_payloads)
            c0 = time.thread_time()
            deltas: dict[int, ActorDelta] = {}
            for p in node_payloads:
                deltas.update(split_node(decode_node(p)))
            trees[n].tick(deltas, {}, rnd + 1.0, 1.0)
            tree_cpu[n].append(time.thread_time() - c0)
    exact = np.concatenate(raw)
    flat_total = flat.total.aggregate("http_reqs")
    row: dict[str, Any] = {
        "actors": actors,
        "rounds": rounds,
        "samples": int(exact.size),
        "flat": {
            "driver_core_share": statistics.median(flat_cpu[1:]),
            "accuracy": _accuracy(flat, exact),
            "http_reqs": flat_total.values(1.0)["count"] if flat_total else 0,
        },
    }
    for n in nodes:
        total = trees[n].total.aggregate("http_reqs")
        row[f"tree{n}"] = {
            "driver_core_share": statistics.median(tree_cpu[n][1:]),
            "aggregator_core_share_max": statistics.median(agg_cpu[n][1:]),
            "node_delta_bytes": node_bytes[n],
            "accuracy": _accuracy(trees[n], exact),
            "http_reqs": total.values(1.0)["count"] if total else 0,
        }
    return row


def table(rows: list[dict[str, Any]], nodes: list[int]) -> str:
    """The Markdown table in docs/BENCHMARKS.md."""
    lines = [
        "| actors | merge | driver CPU per round (share of a core at 1 Hz) | "
        "busiest aggregator | p95 err | p99 err | p99.9 err | http_reqs |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for key, label in [("flat", "flat")] + [(f"tree{n}", f"tree, {n} nodes") for n in nodes]:
            c = r[key]
            agg = c.get("aggregator_core_share_max")
            acc = c["accuracy"]
            lines.append(
                f"| {r['actors']} | {label} | {c['driver_core_share'] * 100:.1f} % | "
                + (f"{agg * 100:.1f} %" if agg is not None else "-")
                + f" | {acc['p(95)'] * 100:.3f} % | {acc['p(99)'] * 100:.3f} % | "
                f"{acc['p(99.9)'] * 100:.3f} % | {c['http_reqs']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.merge_tree")
    p.add_argument("--actors", default="64,256,1024")
    p.add_argument("--nodes", default="8,16")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds after the first")
    p.add_argument("--per-series", type=int, default=200)
    p.add_argument("--markdown", action="store_true", help="print the table, not JSON")
    p.add_argument(
        "--save", action="store_true", help="also write bench/results/merge_tree.json (report)"
    )
    args = p.parse_args()
    nodes = [int(x) for x in args.nodes.split(",")]
    load_start = os.getloadavg()
    rows = [
        run(int(a), nodes, args.rounds, args.per_series, seed=int(a))
        for a in args.actors.split(",")
    ]
    if args.save:
        from bench import harness

        harness.write_result(
            "merge_tree",
            {
                "command": "python -m bench.merge_tree " + " ".join(sys.argv[1:]),
                "nodes": nodes,
                "rows": rows,
                "loadavg_start": load_start,
                "loadavg_end": os.getloadavg(),
                "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            },
        )
    print(table(rows, nodes) if args.markdown else json.dumps(rows), flush=True)


if __name__ == "__main__":
    main()
