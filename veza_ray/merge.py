"""The driver's merged view of a run: no Ray here, only what the actors reported.

Cumulative store, a per-interval series per scenario (for live views and reports),
actor state, losses and generator health. Kept apart from driver.py so it can be tested
by feeding it deltas.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from veza_ray.digest import DEFAULT_MAX_CENTROIDS, WIRE_VERSION
from veza_ray.metric_types import MetricDef
from veza_ray.metrics import MetricStore, TrendSink
from veza_ray.options import Options
from veza_ray.plan import Segment, planned_vu_seconds
from veza_ray.runner import ActorDelta, ScenarioStats, lag_p99

# A generator is saturated in an interval when its loop lags or its core is pegged; a
# run is flagged when that holds for more than SATURATED_SHARE of an actor's intervals.
LAG_P99_LIMIT_MS = 50.0
CPU_LIMIT = 0.90
SATURATED_SHARE = 0.10
# The per-interval series needs only these; the other trends go to the cumulative store.
INTERVAL_METRICS = frozenset({"http_reqs", "http_req_duration", "http_req_failed"})


class MergedRun:
    """Everything the driver knows about a run, merged from actor deltas."""

    def __init__(
        self, options: Options, metrics: Mapping[str, MetricDef], plan: list[list[Segment]]
    ) -> None:
        self.options = options
        self.metrics = dict(metrics)
        self.plan = plan
        self.infos: dict[int, dict[str, Any]] = {}
        self.total = MetricStore(self.metrics)
        self.interval = MetricStore(self.metrics)
        self.actor_stats: dict[int, dict[str, ScenarioStats]] = {}
        self.done_iterations: dict[int, dict[str, int]] = {}
        self.errors: dict[str, int] = {}
        self.lag: dict[int, list[float]] = {}
        self.cpu: dict[int, list[float]] = {}
        self.series: list[dict[str, Any]] = []
        self.lost: dict[int, dict[str, Any]] = {}
        self.replaced_by: dict[int, int] = {}

    def add_actor(self, actor: int, info: Mapping[str, Any], segments: list[Segment]) -> None:
        self.infos[actor] = dict(info)
        while len(self.plan) <= actor:
            self.plan.append([])
        self.plan[actor] = segments

    def merge(self, actor: int, delta: ActorDelta) -> None:
        self.total.merge_wire(delta["series"], self.interval, INTERVAL_METRICS)
        self.actor_stats[actor] = dict(delta["scenarios"])
        self.done_iterations[actor] = {
            name: int(st["iterations"]) for name, st in delta["scenarios"].items()
        }
        for msg, count in delta["errors"].items():
            self.errors[msg] = self.errors.get(msg, 0) + count
        if delta["started"]:
            self.lag.setdefault(actor, []).append(lag_p99(delta["lag_ms"]))
            self.cpu.setdefault(actor, []).append(delta["cpu"])

    def lose(self, actor: int, at: float, why: str) -> None:
        """Keep what the actor reported; remember when and why it was lost."""
        self.lost[actor] = {"at_s": round(at, 3), "why": why, "replaced_by": None}
        self.actor_stats.pop(actor, None)

    def replaced(self, lost: int, by: int, at: float) -> None:
        self.replaced_by[lost] = by
        self.lost[lost]["replaced_by"] = by
        self.lost[lost]["replaced_at_s"] = round(at, 3)

    def stats_by_scenario(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for stats in self.actor_stats.values():
            for name, st in stats.items():
                agg = out.setdefault(
                    name, {"active": 0, "allocated": 0, "iterations": 0, "dropped": 0}
                )
                agg["active"] += st["active"]
                agg["allocated"] += st["allocated"]
                agg["iterations"] += st["iterations"]
                agg["dropped"] += st["dropped"]
        return out

    def last_point(self) -> dict[str, dict[str, float]]:
        if not self.series:
            return {}
        scenarios: dict[str, dict[str, float]] = self.series[-1]["scenarios"]
        return scenarios

    def close_interval(self, elapsed: float, dt: float) -> None:
        """Fold this round's digests, record the vus gauges and one per-scenario point of
        the series, then reset the interval store."""
        self.total.end_round()  # merges each series once; the interval store reuses it
        by_sc = self.stats_by_scenario()
        now = time.time()
        active = float(sum(s["active"] for s in by_sc.values()))
        allocated = float(sum(s["allocated"] for s in by_sc.values()))
        vus, vus_max = self.total.sink("vus", ()), self.total.sink("vus_max", ())
        vus.add(active, now)  # type: ignore[call-arg]
        vus_max.add(allocated, now)  # type: ignore[call-arg]
        point: dict[str, Any] = {"t": round(elapsed, 3), "scenarios": {}}
        for sc in self.options.scenarios:
            sel = (("scenario", sc.name),)
            reqs = self.interval.aggregate("http_reqs", sel)
            dur = self.interval.aggregate("http_req_duration", sel)
            failed = self.interval.aggregate("http_req_failed", sel)
            count = reqs.values(1.0)["count"] if reqs else 0.0
            entry: dict[str, float] = {
                "reqs": count,
                "rps": count / dt if dt > 0 else 0.0,
                "p95": 0.0,
                "p99": 0.0,
                "error_rate": failed.values(1.0)["rate"] if failed else 0.0,
                "vus": float(by_sc.get(sc.name, {}).get("active", 0)),
            }
            if isinstance(dur, TrendSink) and not dur.empty():
                entry["p95"] = dur.digest.quantile(0.95)
                entry["p99"] = dur.digest.quantile(0.99)
            point["scenarios"][sc.name] = entry
        self.series.append(point)
        self.interval = MetricStore(self.metrics)

    def lost_vu_seconds(self) -> float:
        """VU-seconds planned for lost actors between their loss and their replacement."""
        configs = {sc.name: sc for sc in self.options.scenarios}
        total = 0.0
        for actor, info in self.lost.items():
            gap_end = info.get("replaced_at_s")
            for seg in self.plan[actor]:
                sc = configs[seg.scenario]
                span = sc.run_duration or 1.0
                begin, end = sc.start_time, sc.start_time + span
                lo = min(max(info["at_s"], begin), end)
                hi = end if gap_end is None else min(max(gap_end, begin), end)
                total += planned_vu_seconds(sc, seg) * max(0.0, hi - lo) / span
        return total

    def generator_health(self) -> dict[str, Any]:
        """Which actors were saturated, by the rule above; part of the verdict, not a log."""
        saturated = []
        for actor in sorted(self.lag):
            lags, cpus = self.lag[actor], self.cpu.get(actor, [])
            bad = sum(
                1
                for i, lag in enumerate(lags)
                if lag > LAG_P99_LIMIT_MS or (i < len(cpus) and cpus[i] > CPU_LIMIT)
            )
            if lags and bad / len(lags) > SATURATED_SHARE:
                info = self.infos.get(actor, {})
                saturated.append(
                    {
                        "id": actor,
                        "address": info.get("address", ""),
                        "saturated_share": round(bad / len(lags), 3),
                        "loop_lag_p99_ms": round(max(lags), 1),
                        "cpu_max": round(max(cpus), 3) if cpus else 0.0,
                    }
                )
        return {
            "saturated": bool(saturated),
            "actors": saturated,
            "rule": (
                f"loop lag p99 > {LAG_P99_LIMIT_MS:g} ms or CPU > {CPU_LIMIT:.0%} in more "
                f"than {SATURATED_SHARE:.0%} of an actor's intervals"
            ),
        }

    def distributions(self) -> dict[str, dict[str, Any]]:
        """Per-scenario latency distribution from the merged digests, for reports."""
        out: dict[str, dict[str, Any]] = {}
        for sc in self.options.scenarios:
            sink = self.total.aggregate("http_req_duration", (("scenario", sc.name),))
            if not isinstance(sink, TrendSink) or sink.empty():
                continue
            d = sink.digest
            grid = sorted({*range(0, 100, 2), 95, 99, 99.9, 100})
            cents = d.centroids()
            step = max(1, len(cents) // 200)
            out[sc.name] = {
                "count": d.count,
                "quantiles": {f"p({q:g})": d.quantile(q / 100.0) for q in grid},
                "centroids": [[m, w] for m, w in cents[::step]],
            }
        return out

    def extras(self, start: float, end: float) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        actors = []
        for i in sorted(self.infos):
            info = self.infos[i]
            segs = {s.scenario: s.max_vus for s in self.plan[i]}
            lag = self.lag.get(i, [])
            cpu = self.cpu.get(i, [])
            actors.append(
                {
                    "id": i,
                    "node_id": info["node_id"],
                    "address": info["address"],
                    "pid": info["pid"],
                    "vus": segs,
                    "loop_lag_p99_ms": max(lag) if lag else 0.0,
                    "cpu_max": max(cpu) if cpu else 0.0,
                    "lost": i in self.lost,
                    "replaces": info.get("replaces"),
                }
            )
            node = nodes.setdefault(
                info["node_id"],
                {"address": info["address"], "node_id": info["node_id"], "actors": []},
            )
            node["actors"].append({"id": i, "vus": segs})
        return {
            "version": "0.1.0",
            "actors": actors,
            "nodes": list(nodes.values()),
            "digest": {
                "library": "fastdigest",
                "max_centroids": DEFAULT_MAX_CENTROIDS,
                "wire_version": WIRE_VERSION,
            },
            "run": {"start_epoch": start, "end_epoch": end, "duration_s": end - start},
            "errors": self.errors,
            "generator_health": self.generator_health(),
            "lost_actors": [
                {
                    "id": i,
                    "address": self.infos[i]["address"],
                    "node_id": self.infos[i]["node_id"],
                    "vus": {s.scenario: s.max_vus for s in self.plan[i]},
                    **info,
                }
                for i, info in self.lost.items()
            ],
            "lost_vu_seconds": round(self.lost_vu_seconds(), 3),
            "intervals": self.series,
        }
