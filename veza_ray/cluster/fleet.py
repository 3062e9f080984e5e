"""The actors of one run on Ray: placement, non-blocking pulls, losses, replacements.

Pulls never block the loop on one actor: each actor has at most one pull in flight, the
driver waits a bounded time for whatever is ready, and an actor that stays silent past
``silent_s`` (its node cut off) is declared lost. Ray itself reports a dead process or
node as a RayActorError on the pull.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veza_ray.cluster.puller import ActorPuller, first_line
from veza_ray.core import exitcodes
from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.executors import EXECUTORS
from veza_ray.core.plan import Segment
from veza_ray.core.wire import ActorDelta


class PlacementError(Exception):
    """The cluster cannot hold the actors as asked (exit 111)."""

    code = exitcodes.CLUSTER_ERROR


@dataclass
class PlacementRequest:
    actors: int | None
    spread: str = "spread"  # "spread" (SPREAD) or "strict" (STRICT_SPREAD)
    actors_per_node: int | None = None


def cpu_nodes(ray: Any) -> list[dict[str, Any]]:
    """Alive nodes with at least one CPU, as Ray lists them."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]


def plan_placement(
    nodes: list[dict[str, Any]], req: PlacementRequest
) -> tuple[int, str, list[str] | None]:
    """How many actors, which strategy, and (with --actors-per-node) the node of each actor.

    Pure apart from its input, so the refusals can be tested without a cluster.
    """
    cpus = int(sum(n["Resources"].get("CPU", 0) for n in nodes))
    if req.actors_per_node:
        short = [
            n["NodeManagerAddress"]
            for n in nodes
            if n["Resources"].get("CPU", 0) < req.actors_per_node
        ]
        if short:
            raise PlacementError(
                f"--actors-per-node {req.actors_per_node} needs that many CPUs on every node; "
                f"{', '.join(short)} offer fewer"
            )
        ids = [n["NodeID"] for n in nodes for _ in range(req.actors_per_node)]
        return len(ids), "NODE", ids
    n = req.actors or max(1, cpus)
    if req.spread == "strict" and len(nodes) < n:
        raise PlacementError(
            f"--spread strict puts each actor on its own node: {n} actors need {n} nodes, "
            f"the cluster has {len(nodes)} alive node(s) with a CPU"
        )
    if n > cpus:
        raise PlacementError(f"--actors {n} needs {n} CPUs but the Ray cluster offers {cpus}")
    return n, "STRICT_SPREAD" if req.spread == "strict" else "SPREAD", None


class Fleet(ActorPuller):
    """One run's actors: placement, the pulls (cluster/puller.py), the merge tree."""

    def __init__(self, ray: Any, make_actor: Callable[..., Any], silent_s: float) -> None:
        super().__init__(ray, silent_s)
        self.make_actor = make_actor
        self.pg: Any = None
        # The merge tree (aggregator.py): per node with an aggregator, its handle, its
        # one pull in flight and when it last answered; ``tree`` is what the summary says.
        self.node_of: dict[int, str] = {}
        self.aggs: dict[str, Any] = {}
        self.agg_pending: dict[str, tuple[Any, float]] = {}
        self.agg_heard: dict[str, float] = {}
        self.tree: dict[str, dict[str, Any]] = {}
        self.notices: list[str] = []  # what the driver should say about the tree, once

    def place(
        self,
        req: PlacementRequest,
        plan: Callable[[int], list[list[Segment]]],
        args: Callable[[int, list[Segment]], tuple[Any, ...]],
    ) -> list[list[Segment]]:
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import (
            NodeAffinitySchedulingStrategy,
            PlacementGroupSchedulingStrategy,
        )

        n, strategy, node_ids = plan_placement(cpu_nodes(self.ray), req)
        segments = plan(n)
        strategies: list[Any]
        if node_ids is not None:
            strategies = [NodeAffinitySchedulingStrategy(nid, soft=False) for nid in node_ids]
        else:
            self.pg = placement_group([{"CPU": 1}] * n, strategy=strategy)
            ready, _ = self.ray.wait([self.pg.ready()], timeout=30)
            if not ready:
                raise PlacementError(
                    f"Ray could not place {n} actors ({strategy}) within 30 s: "
                    f"the cluster offers {self.ray.cluster_resources().get('CPU', 0):.0f} CPUs"
                )
            strategies = [
                PlacementGroupSchedulingStrategy(
                    placement_group=self.pg, placement_group_bundle_index=i
                )
                for i in range(n)
            ]
        for i in range(n):
            self.handles[i] = self.make_actor(num_cpus=1, strategy=strategies[i])(
                *args(i, segments[i])
            )
            self.live.add(i)
        return segments

    def infos(self, ids: list[int]) -> list[dict[str, Any]]:
        return list(self.ray.get([self.handles[i].info.remote() for i in ids]))

    def start(self, ids: list[int], start_epoch: float) -> None:
        self.ray.get([self.handles[i].start.remote(start_epoch) for i in ids])
        now = time.time()
        for i in ids:
            self.last_heard[i] = now

    def attach_tree(
        self, node_of: dict[int, str], mode: str, make_aggregator: Callable[[str], Any]
    ) -> None:
        """Start an aggregator on each node ``mode`` picks and hand it that node's actors.
        A node whose aggregator fails to start is pulled directly, as without the tree."""
        from veza_ray.cluster.aggregator import tree_nodes

        self.node_of = dict(node_of)
        by_node: dict[str, list[int]] = {}
        for i, nid in sorted(node_of.items()):
            by_node.setdefault(nid, []).append(i)
        started = {nid: make_aggregator(nid) for nid in tree_nodes(by_node, mode)}
        refs = {
            nid: h.attach.remote({i: self.handles[i] for i in by_node[nid]})
            for nid, h in started.items()
        }
        now = time.time()
        for nid, ref in refs.items():
            try:
                where = self.ray.get(ref, timeout=60)
            except Exception as exc:
                self.tree[nid] = {"status": f"not started ({first_line(exc)}): pulled directly"}
                with contextlib.suppress(Exception):
                    self.ray.kill(started[nid], no_restart=True)
                continue
            self.aggs[nid] = started[nid]
            self.agg_heard[nid] = now
            self.tree[nid] = {"status": "in use", "pid": where["pid"], "actors": by_node[nid]}

    def pull(self, wait_s: float) -> tuple[dict[int, ActorDelta], dict[int, str]]:
        """Deltas from the actors that answered, and the actors found lost (with why).

        Actors on a node with an aggregator are pulled through it: one node delta per
        node (``aggregator.split_node`` gives them back per actor)."""
        now = time.time()
        tree_live: dict[str, list[int]] = {}
        direct = []
        for i in self.live:
            nid = self.node_of.get(i, "")
            if nid in self.aggs:
                tree_live.setdefault(nid, []).append(i)
            else:
                direct.append(i)
        self.send(direct, now)
        for nid in tree_live:
            if nid not in self.agg_pending:
                ref = self.aggs[nid].pull.remote(BINARY_FORMAT, wait_s * 0.5)
                self.agg_pending[nid] = (ref, now)
        refs = self.pending_refs() + [ref for ref, _ in self.agg_pending.values()]
        ready = self.wait(refs, wait_s)
        deltas: dict[int, ActorDelta] = {}
        lost: dict[int, str] = {}
        now = time.time()
        self._pull_tree(tree_live, ready, now, deltas, lost)
        self.collect(ready, now, deltas, lost)
        self.settle(deltas, lost)
        return deltas, lost

    def _pull_tree(
        self,
        tree_live: dict[str, list[int]],
        ready: set[Any],
        now: float,
        deltas: dict[int, ActorDelta],
        lost: dict[int, str],
    ) -> None:
        """Read the aggregators that answered. One that died hands its node back to
        direct pulls (a dead node then shows as its actors' losses, as without the
        tree; a lone dead aggregator costs at most the round it held). One silent past
        ``silent_s`` means its node is cut off: its actors' leases ran out with it, so
        they are lost."""
        from ray.exceptions import RayActorError

        from veza_ray.cluster.aggregator import decode_node, split_node

        for nid, (ref, _sent) in list(self.agg_pending.items()):
            if ref in ready:
                del self.agg_pending[nid]
                try:
                    nd = decode_node(self.ray.get(ref))
                except RayActorError as exc:
                    self._drop_aggregator(nid, f"lost ({first_line(exc)}): pulled directly")
                    self.notices.append(
                        f"the aggregator of node {nid[:12]} died ({first_line(exc)}): its "
                        "actors are pulled directly from now on; what it held of the last "
                        "round is not counted"
                    )
                    for i in tree_live.get(nid, []):
                        self.last_heard[i] = now
                    continue
                self.agg_heard[nid] = now
                for i in tree_live.get(nid, []):
                    self.last_heard[i] = now
                deltas.update(split_node(nd))
                lost.update({i: why for i, why in nd["lost"].items() if i in self.live})
            elif now - self.agg_heard.get(nid, now) > self.silent_s:
                why = f"its node's aggregator: no answer for {self.silent_s:.0f} s"
                self._drop_aggregator(nid, f"silent: {why}")
                for i in tree_live.get(nid, []):
                    lost[i] = f"{why} (node dead or cut off)"

    def _drop_aggregator(self, nid: str, status: str) -> None:
        self.tree.setdefault(nid, {})["status"] = status
        self.agg_pending.pop(nid, None)
        handle = self.aggs.pop(nid, None)
        with contextlib.suppress(Exception):
            self.ray.kill(handle, no_restart=True)

    def stop(self, grace: float) -> None:
        for i in self.live:
            self.handles[i].stop.remote(grace)

    def close(self) -> None:
        for nid in list(self.aggs):
            self._drop_aggregator(nid, self.tree.get(nid, {}).get("status", "in use"))
        if self.pg is not None:
            from ray.util.placement_group import remove_placement_group

            with contextlib.suppress(Exception):
                remove_placement_group(self.pg)


def resume_segments(
    segments: list[Segment], done: dict[str, int], executors: dict[str, str]
) -> list[Segment]:
    """A lost actor's segments for its replacement: iteration budgets minus what was done.

    Each executor's config says how (``resume``); time-based executors need no change, as
    the replacement starts on the original timeline and only runs what is left of it.
    """
    out = []
    for seg in segments:
        pair = EXECUTORS.get(executors.get(seg.scenario, ""))
        if pair is not None:
            seg = pair.config.resume(seg, done.get(seg.scenario, 0))
        out.append(seg)
    return out
