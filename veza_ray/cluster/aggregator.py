"""The merge tree: one aggregator per node folds its actors' deltas into one node delta.

Without it the driver decodes and merges every actor's series each round, so its work
grows with actors. With it, each node's aggregator pulls that node's actors, folds their
series (counters, rates and gauges exactly; trend digests in one fastdigest merge per
series, the same merge the driver does) and hands the driver ONE delta per node. What
the driver judges per actor (scenario counters, ends, loop lag, CPU, wall clock, errors)
still travels per actor, untouched, inside the node delta.

The fold and the split are pure (no Ray) and tested as such. ``NodeAggregator`` is the
Ray shell: a separate ``num_cpus=0`` actor pinned to its node, not a role of a load
actor, because a load actor's event-loop lag is what generator health measures: folding
dozens of digests there would make that actor look saturated. The aggregator pulls its
actors only when the driver pulls it, so the actors' lease still runs out when the
driver goes silent.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from veza_ray.core.metric_types import MetricDef
from veza_ray.core.metrics import MetricStore, SeriesWire
from veza_ray.core.wire import ActorDelta

# "auto" gives a node an aggregator when the run spans more than one node and the node
# holds at least this many actors: below that the driver merges as few deltas per node
# as the aggregator would, and the extra process (~90 MB, ~1 s to start) buys nothing.
TREE_MIN_ACTORS = 4
MODES = ("auto", "on", "off")


class NodeDelta(TypedDict):
    """What an aggregator hands the driver per round: the node's merged series, each
    answering actor's own state (with ``series`` empty), and the actors it found lost."""

    node_id: str
    series: list[SeriesWire]
    actors: dict[int, ActorDelta]
    lost: dict[int, str]


def fold_series(
    deltas: list[ActorDelta], defs: Mapping[str, MetricDef], binary: bool
) -> list[SeriesWire]:
    """N actors' series folded into one series list: one entry per (metric, tags).

    The same ``MetricStore.merge_wire`` + ``end_round`` the driver runs, so counters,
    rates and gauges come out exact and each trend series is one digest merged from all
    of the node's digests in one pass.
    """
    store = MetricStore(defs)
    for d in deltas:
        store.merge_wire(d["series"])
    store.end_round()
    store.binary_digests = binary
    return store.drain()


def fold_node(
    node_id: str,
    deltas: Mapping[int, ActorDelta],
    lost: Mapping[int, str],
    defs: Mapping[str, MetricDef],
    binary: bool,
) -> NodeDelta:
    """The node delta for one round: series folded, per-actor state kept per actor."""
    ids = sorted(deltas)
    series = fold_series([deltas[i] for i in ids], defs, binary)
    actors: dict[int, ActorDelta] = {}
    for i in ids:
        own = dict(deltas[i])
        own["series"] = []
        actors[i] = cast(ActorDelta, own)
    return {"node_id": node_id, "series": series, "actors": actors, "lost": dict(lost)}


def split_node(nd: NodeDelta) -> dict[int, ActorDelta]:
    """The node delta as per-actor deltas for ``MergedRun.tick``: the merged series ride
    on the lowest answering actor, the others carry none. MergedRun keeps series per
    run, never per actor, so which actor carries them changes nothing it computes."""
    out = dict(nd["actors"])
    if out and nd["series"]:
        first = min(out)
        out[first] = cast(ActorDelta, {**out[first], "series": nd["series"]})
    return out


def encode_node(nd: NodeDelta) -> bytes:
    """Pickle, as ``wire.encode_delta``: digests travel as fastdigest bytes."""
    return pickle.dumps(nd, protocol=5)


def decode_node(data: bytes) -> NodeDelta:
    """Read ``encode_node``'s bytes, checking the shape (an aggregator of another veza-ray
    version fails here, by name, not deep in a merge)."""
    from veza_ray.core.wire import check_delta

    obj: Any = pickle.loads(data)
    if not isinstance(obj, dict) or not all(
        k in obj for k in ("node_id", "series", "actors", "lost")
    ):
        raise ValueError("an aggregator's pull is not a node delta: it runs another veza-ray")
    for delta in obj["actors"].values():
        check_delta(delta)
    return cast(NodeDelta, obj)


def tree_nodes(actors_by_node: Mapping[str, list[int]], mode: str) -> list[str]:
    """The nodes that get an aggregator under ``mode`` (see TREE_MIN_ACTORS)."""
    if mode == "off":
        return []
    if mode == "on":
        return sorted(actors_by_node)
    if len(actors_by_node) < 2:
        return []
    return sorted(n for n, ids in actors_by_node.items() if len(ids) >= TREE_MIN_ACTORS)


class NodeAggregator:
    """The Ray shell around ``fold_node``: pulls its node's actors when the driver pulls it."""

    def __init__(self, node_id: str, defs: dict[str, MetricDef], silent_s: float) -> None:
        import ray

        from veza_ray.cluster.puller import ActorPuller

        self.node_id = node_id
        self.defs = defs
        self.actors = ActorPuller(ray, silent_s)

    def attach(self, handles: dict[int, Any]) -> dict[str, Any]:
        """Take the node's actor handles; returns where this aggregator runs."""
        import ray

        now = time.time()
        for i, h in handles.items():
            self.actors.add(i, h)
            self.actors.last_heard[i] = now
        ctx = ray.get_runtime_context()
        return {
            "node_id": ctx.get_node_id(),
            "address": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
            "pid": os.getpid(),
        }

    def pull(self, digest_format: str, wait_s: float) -> bytes:
        """One round: pull every live actor of the node (one pull in flight each, as the
        driver does), fold what answered within ``wait_s``, report the lost ones."""
        from veza_ray.core.digest import BINARY_FORMAT

        deltas, lost = self.actors.pull(wait_s) if self.actors.live else ({}, {})
        binary = bool(digest_format) and digest_format == BINARY_FORMAT
        return encode_node(fold_node(self.node_id, deltas, lost, self.defs, binary))


def remote_aggregator() -> Any:
    """The Ray remote class, made on demand so importing this module needs no Ray.
    One call at a time: a round's pulls and folds never interleave."""
    import ray

    opts: dict[str, Any] = {"max_restarts": 0, "max_concurrency": 1}
    return ray.remote(**opts)(NodeAggregator)
