"""The merge tree's pure parts: folding N actor deltas into one node delta must give the
driver the same counts as the flat merge, digests as accurate, and every actor's own
state untouched (no Ray running)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from bench.digest_merge import actor_store
from veza_ray.cluster.aggregator import (
    TREE_MIN_ACTORS,
    decode_node,
    encode_node,
    fold_node,
    split_node,
    tree_nodes,
)
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS, make_tags
from veza_ray.core.metrics import GaugeSink, TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.core.wire import ActorDelta, decode_delta, encode_delta

ACTORS = 12
NODES = 3


def _deltas(rounds: int, raw: list[Any]) -> list[dict[int, ActorDelta]]:
    rng = np.random.default_rng(7)
    out = []
    for r in range(rounds):
        per_round: dict[int, ActorDelta] = {}
        for a in range(ACTORS):
            store = actor_store(rng, 150 + a, raw)
            vus = store.sink("vus", ())
            assert isinstance(vus, GaugeSink)
            vus.add(float(a), stamp=r * 100.0 + a)  # the last write must win by stamp
            per_round[a] = decode_delta(
                encode_delta(
                    {
                        "series": store.drain(),
                        "scenarios": {
                            "mix": {
                                "active": a,
                                "allocated": a + 1,
                                "iterations": 10 * a + r,
                                "dropped": a % 2,
                                "undelivered": 0,
                            }
                        },
                        "errors": {f"boom {a % 3}": a + 1},
                        "lag_ms": [float(a), 2.0 * a],
                        "cpu": a / 100.0,
                        "wall": 1000.0 + r + a / 1000.0,
                        "done": r == rounds - 1 and a == 0,
                        "started": True,
                        "end": {"reason": "plan", "at": 5.0} if a == 0 else None,
                    }
                )
            )
        out.append(per_round)
    return out


def _state() -> MergedRun:
    options = parse_options(
        {"scenarios": {"mix": {"executor": "constant-vus", "vus": ACTORS, "duration": "10s"}}}
    )
    plan = make_plan(options.scenarios, ACTORS)
    state = MergedRun(options, dict(BUILTIN_METRICS), plan)
    for i in range(ACTORS):
        state.add_actor(i, {"address": "10.0.0.1", "node_id": f"n{i % NODES}", "pid": i}, plan[i])
    return state


def test_tree_gives_the_driver_what_the_flat_merge_gives() -> None:
    raw: list[Any] = []
    rounds = _deltas(3, raw)
    flat, tree = _state(), _state()
    for r, deltas in enumerate(rounds):
        flat.tick(deltas, {}, float(r + 1), 1.0)
        node_deltas = []
        for k in range(NODES):
            mine = {a: d for a, d in deltas.items() if a % NODES == k}
            nd = fold_node(f"n{k}", mine, {}, BUILTIN_METRICS, binary=True)
            # One series per (metric, tags) per node, not per actor.
            assert len(nd["series"]) == len(mine[min(mine)]["series"])
            node_deltas.append(decode_node(encode_node(nd)))
        merged: dict[int, ActorDelta] = {}
        for nd in node_deltas:
            merged.update(split_node(nd))
        assert sorted(merged) == list(range(ACTORS))
        tree.tick(merged, {}, float(r + 1), 1.0)

    # Counters, rates and gauges: identical, series by series.
    assert set(flat.total.series) == set(tree.total.series)
    for key, sink in flat.total.series.items():
        other = tree.total.series[key]
        if isinstance(sink, TrendSink):
            assert isinstance(other, TrendSink)
            assert other.digest.count == sink.digest.count
            assert other.digest.min == sink.digest.min and other.digest.max == sink.digest.max
        else:
            assert other.values(1.0) == sink.values(1.0), key
    # The last per-scenario interval point is the same too.
    assert (
        flat.series[-1]["scenarios"]["mix"]["reqs"] == tree.series[-1]["scenarios"]["mix"]["reqs"]
    )
    # Digests keep the accuracy: p95/p99/p99.9 within what the flat merge reaches.
    exact = np.concatenate(raw)
    f = flat.total.aggregate("http_req_duration")
    t = tree.total.aggregate("http_req_duration")
    assert isinstance(f, TrendSink) and isinstance(t, TrendSink)
    assert t.digest.count == exact.size
    for q in (0.95, 0.99, 0.999):
        truth = float(np.quantile(exact, q))
        flat_err = abs(f.digest.quantile(q) - truth) / truth
        tree_err = abs(t.digest.quantile(q) - truth) / truth
        assert tree_err <= max(2 * flat_err, 0.01), (q, flat_err, tree_err)
    # Per-actor state reaches the driver per actor, as without the tree.
    assert tree.actor_stats == flat.actor_stats
    assert tree.errors == flat.errors
    assert tree.lag == flat.lag and tree.cpu == flat.cpu and tree.interval_s == flat.interval_s
    assert tree.ends == flat.ends == {0: {"reason": "plan", "at": 5.0}}


def test_split_puts_the_series_on_one_actor_and_keeps_losses() -> None:
    raw: list[Any] = []
    deltas = _deltas(1, raw)[0]
    mine = {5: deltas[5], 2: deltas[2]}
    nd = fold_node("n", mine, {9: "RayActorError: dead"}, BUILTIN_METRICS, binary=False)
    out = split_node(nd)
    assert out[2]["series"] == nd["series"] and out[5]["series"] == []
    assert out[5]["scenarios"] == deltas[5]["scenarios"] and out[5]["wall"] == deltas[5]["wall"]
    assert nd["lost"] == {9: "RayActorError: dead"}
    # Nobody answered: nothing to carry, the losses still go through.
    empty = fold_node("n", {}, {3: "gone"}, BUILTIN_METRICS, binary=True)
    assert split_node(empty) == {} and empty["lost"] == {3: "gone"}


def test_gauge_last_value_wins_across_nodes_by_stamp() -> None:
    def delta(value: float, stamp: float) -> ActorDelta:
        return {
            "series": [
                {
                    "m": "vus",
                    "t": make_tags({}),
                    "s": {"value": value, "min": value, "max": value, "stamp": stamp},
                }
            ],
            "scenarios": {},
            "errors": {},
            "lag_ms": [],
            "cpu": 0.0,
            "wall": time.time(),
            "done": False,
            "started": True,
            "end": None,
        }

    nd = fold_node("n", {0: delta(3.0, 10.0), 1: delta(7.0, 5.0)}, {}, BUILTIN_METRICS, True)
    assert nd["series"][0]["s"] == {"value": 3.0, "min": 3.0, "max": 7.0, "stamp": 10.0}


def test_decode_refuses_what_is_not_a_node_delta() -> None:
    import pickle

    with pytest.raises(ValueError, match="not a node delta"):
        decode_node(pickle.dumps({"series": []}))
    bad = {"node_id": "n", "series": [], "lost": {}, "actors": {1: {"series": []}}}
    with pytest.raises(ValueError, match="has no 'scenarios'"):
        decode_node(pickle.dumps(bad))


def test_auto_tree_only_where_a_node_holds_enough_actors_on_a_multi_node_run() -> None:
    big, small = list(range(TREE_MIN_ACTORS)), [99]
    assert tree_nodes({"a": big}, "auto") == []  # one node: the driver merges it directly
    assert tree_nodes({"a": big, "b": small}, "auto") == ["a"]
    assert tree_nodes({"a": small, "b": small}, "on") == ["a", "b"]
    assert tree_nodes({"a": big, "b": big}, "off") == []
