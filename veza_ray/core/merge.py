"""The driver's merged view of a run: no Ray here, only what the actors reported.

Cumulative store, a per-interval series per scenario (for live views and reports),
actor state, losses and generator health. Kept apart from driver.py so it can be tested
by feeding it deltas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from veza_ray.core import cardinality
from veza_ray.core.datasplit import DataUse, merge_usage
from veza_ray.core.digest import DEFAULT_MAX_CENTROIDS, WIRE_VERSION
from veza_ray.core.metric_types import MetricDef, Tags
from veza_ray.core.metrics import MetricStore, TrendSink
from veza_ray.core.options import Options, ScenarioConfig
from veza_ray.core.plan import Segment, planned_vu_seconds
from veza_ray.core.series import ALL, MAX_POINTS, RECENT_POINTS, IntervalSeries, ScopeCounts
from veza_ray.core.version import __version__
from veza_ray.core.wire import (
    MAX_ERROR_MESSAGES,
    OTHER_ERRORS,
    ActorDelta,
    ActorEnd,
    ScenarioStats,
)

# A generator is saturated in an interval when its event loop's timers fire more than
# LAG_P99_LIMIT_MS late (p99): VUs then start iterations, sleeps and arrivals later than
# planned, so less load is offered than the plan. An actor is saturated when such
# intervals add up to more than SATURATED_SHARE of its running time and at least
# SATURATED_MIN_S seconds (a lone start-up hiccup in a short run is not saturation).
# Intervals are weighted by their length, so a loop blocked for 5 s counts as 5 s even
# though it answered one pull in that time. A pegged core (CPU_LIMIT) with timers on time
# is reported as a note only: the plan was still kept.
LAG_P99_LIMIT_MS = 50.0
CPU_LIMIT = 0.90
SATURATED_SHARE = 0.10
SATURATED_MIN_S = 1.5
# The per-interval series needs only these; the other trends go to the cumulative store.
INTERVAL_METRICS = frozenset({"http_reqs", "http_req_duration", "http_req_failed"})


def lag_p99(samples: Sequence[float]) -> float:
    """The p99 of one interval's loop-lag samples (nearest rank; a few dozen samples)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def _vu_seconds_after(
    sc: ScenarioConfig, seg: Segment, from_s: float, until_s: float | None
) -> float:
    """The segment's planned VU-seconds between ``from_s`` and ``until_s`` (None: the
    scenario's end), spread evenly over its span: what a loss or an early stop cost."""
    span = sc.run_duration or 1.0
    begin, end = sc.start_time, sc.start_time + span
    lo = min(max(from_s, begin), end)
    hi = end if until_s is None else min(max(until_s, begin), end)
    return planned_vu_seconds(sc, seg) * max(0.0, hi - lo) / span


class MergedRun:
    """Everything the driver knows about a run, merged from actor deltas."""

    def __init__(
        self,
        options: Options,
        metrics: Mapping[str, MetricDef],
        plan: list[list[Segment]],
        max_series_per_metric: int = cardinality.MAX_SERIES_PER_METRIC,
    ) -> None:
        self.options = options
        self.metrics = dict(metrics)
        self.plan = plan
        self.infos: dict[int, dict[str, Any]] = {}
        self.max_series = max_series_per_metric
        self.total = MetricStore(self.metrics, max_series_per_metric=max_series_per_metric)
        self.interval = MetricStore(self.metrics, max_series_per_metric=max_series_per_metric)
        self.cardinality = cardinality.Watch(max_series_per_metric)
        self.notices: list[str] = []  # warnings for the driver to show, once each
        self.actor_stats: dict[int, dict[str, ScenarioStats]] = {}
        self.done_iterations: dict[int, dict[str, int]] = {}
        self.errors: dict[str, int] = {}
        self.lag: dict[int, list[float]] = {}
        self.cpu: dict[int, list[float]] = {}
        self.timeline = IntervalSeries()  # bounded: core/series.py
        self._last_point: dict[str, Any] = {}
        self.lost: dict[int, dict[str, Any]] = {}
        self.replaced_by: dict[int, int] = {}
        self.ends: dict[int, ActorEnd] = {}
        self.undelivered_iters: dict[int, int] = {}
        self.interval_s: dict[int, list[float]] = {}
        self._last_wall: dict[int, float] = {}
        self.data_use: dict[int, dict[str, DataUse]] = {}  # each actor's data files, latest

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
        self.undelivered_iters[actor] = sum(
            int(st.get("undelivered", 0)) for st in delta["scenarios"].values()
        )
        for msg, count in delta["errors"].items():
            if msg not in self.errors and len(self.errors) >= MAX_ERROR_MESSAGES:
                msg = OTHER_ERRORS  # bounded cluster-wide too
            self.errors[msg] = self.errors.get(msg, 0) + count
        wall = float(delta["wall"])
        prev = self._last_wall.get(actor)
        self._last_wall[actor] = wall
        if delta["started"] and prev is not None:  # the very first pull has no known span
            self.lag.setdefault(actor, []).append(lag_p99(delta["lag_ms"]))
            self.cpu.setdefault(actor, []).append(delta["cpu"])
            self.interval_s.setdefault(actor, []).append(max(0.0, wall - prev))
        end = delta.get("end")
        if end:
            self.ends[actor] = end
        if "data" in delta:  # cumulative per actor: the latest replaces the previous
            self.data_use[actor] = dict(delta["data"])

    def tick(
        self, deltas: Mapping[int, ActorDelta], lost: Mapping[int, str], elapsed: float, dt: float
    ) -> None:
        """One driver round: fold every actor's delta, record the losses, close the interval
        (the per-scenario point and the vus gauges). Pure: no Ray, no clock of its own."""
        for actor, delta in deltas.items():
            self.merge(actor, delta)
        too_many = self.cardinality.check(len(self.total.series), self.total.overflow_series > 0)
        if too_many:
            self.notices.append(too_many)
        for actor, why in lost.items():
            self.lose(actor, elapsed, why)
        self.close_interval(elapsed, dt)

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

    @property
    def series(self) -> list[dict[str, Any]]:
        """The per-interval points, oldest first, compacted past ``RECENT_POINTS``."""
        return self.timeline.points()

    def last_point(self) -> dict[str, dict[str, float]]:
        if not self._last_point:
            return {}
        scenarios: dict[str, dict[str, float]] = self._last_point["scenarios"]
        return scenarios

    def close_interval(self, elapsed: float, dt: float) -> None:
        """Fold this round's digests, record the vus gauges and one per-scenario point of
        the series, then reset the interval store."""
        self.total.end_round()  # merges each series once; the interval store reuses it
        by_sc = self.stats_by_scenario()
        active = float(sum(s["active"] for s in by_sc.values()))
        allocated = float(sum(s["allocated"] for s in by_sc.values()))
        vus, vus_max = self.total.sink("vus", ()), self.total.sink("vus_max", ())
        vus.add(active, elapsed)  # type: ignore[call-arg]
        vus_max.add(allocated, elapsed)  # type: ignore[call-arg]
        scopes = {
            sc.name: self._scope((("scenario", sc.name),), by_sc.get(sc.name, {}))
            for sc in self.options.scenarios
        }
        scopes[ALL] = self._scope((), {"active": int(active)})
        self._last_point = self.timeline.add(elapsed, dt, scopes)
        self.interval = MetricStore(self.metrics, max_series_per_metric=self.max_series)

    def _scope(self, sel: tuple[tuple[str, str], ...], stats: Mapping[str, int]) -> ScopeCounts:
        """One scope's numbers in the interval store: its digest, requests, failures."""
        out = ScopeCounts()
        reqs = self.interval.aggregate("http_reqs", sel)
        dur = self.interval.aggregate("http_req_duration", sel)
        failed = self.interval.aggregate("http_req_failed", sel)
        out.reqs = reqs.values(1.0)["count"] if reqs else 0.0
        if failed:
            vals = failed.values(1.0)
            out.failed, out.judged = vals["passes"], vals["passes"] + vals["fails"]
        if isinstance(dur, TrendSink) and not dur.empty():
            out.digest = dur.digest
        out.vus = float(stats.get("active", 0))
        return out

    def lost_vu_seconds(self) -> float:
        """VU-seconds planned for lost actors between their loss and their replacement."""
        configs = {sc.name: sc for sc in self.options.scenarios}
        return sum(
            _vu_seconds_after(configs[seg.scenario], seg, info["at_s"], info.get("replaced_at_s"))
            for actor, info in self.lost.items()
            for seg in self.plan[actor]
        )

    def generator_health(self) -> dict[str, Any]:
        """Which actors were saturated, by the rule above; part of the verdict, not a log."""
        saturated = []
        busy = []
        for actor in sorted(self.lag):
            lags, cpus = self.lag[actor], self.cpu.get(actor, [])
            spans = self.interval_s.get(actor, [])
            total = sum(spans)
            late = sum(dt for lag, dt in zip(lags, spans, strict=False) if lag > LAG_P99_LIMIT_MS)
            info = self.infos.get(actor, {})
            entry = {
                "id": actor,
                "address": info.get("address", ""),
                "saturated_share": round(late / total, 3) if total else 0.0,
                "saturated_s": round(late, 2),
                "loop_lag_p99_ms": round(max(lags), 1) if lags else 0.0,
                "cpu_max": round(max(cpus), 3) if cpus else 0.0,
            }
            if total and late / total > SATURATED_SHARE and late >= SATURATED_MIN_S:
                saturated.append(entry)
            elif cpus and sum(1 for c in cpus if c > CPU_LIMIT) / len(cpus) > SATURATED_SHARE:
                busy.append(entry)
        return {
            "saturated": bool(saturated),
            "actors": saturated,
            "busy_actors": busy,
            "rule": (
                f"event-loop lag p99 > {LAG_P99_LIMIT_MS:g} ms for more than "
                f"{SATURATED_SHARE:.0%} of an actor's running time (and at least "
                f"{SATURATED_MIN_S:g} s)"
            ),
        }

    def cut_short(self, planned_end_s: float, start_epoch: float) -> list[dict[str, Any]]:
        """Actors whose VUs stopped before the plan's end without the driver asking:
        lost (process or node), lease expired (the driver went silent), crashed."""
        out: list[dict[str, Any]] = []
        for actor in sorted(self.infos):
            address = self.infos[actor].get("address", "")
            if actor in self.lost:
                info = self.lost[actor]
                out.append(
                    {
                        "actor": actor,
                        "address": address,
                        "at_s": info["at_s"],
                        "why": f"lost ({info['why']})",
                        "until_s": info.get("replaced_at_s"),
                    }
                )
                continue
            end = self.ends.get(actor)
            if end is None or end["reason"] in ("plan", "stopped"):
                continue
            if end["reason"].startswith("test.abort"):  # the script's own stop, not a loss
                continue
            at = max(0.0, end["at"] - start_epoch)
            if at >= planned_end_s:
                continue
            why = (
                "its lease expired: no pull from the driver (driver paused or cut off), "
                "so it stopped its VUs"
                if end["reason"] == "lease"
                else end["reason"]
            )
            out.append(
                {
                    "actor": actor,
                    "address": address,
                    "at_s": round(at, 3),
                    "why": why,
                    "until_s": None,
                }
            )
        return out

    def undelivered_vu_seconds(self, cut: list[dict[str, Any]]) -> float:
        """VU-seconds planned for cut-short actors between their stop and the plan's end
        (or their replacement's start). Iteration-budget executors are counted in
        iterations instead (``undelivered_iterations``): their span is only a maximum."""
        configs = {sc.name: sc for sc in self.options.scenarios}
        return sum(
            _vu_seconds_after(configs[seg.scenario], seg, c["at_s"], c["until_s"])
            for c in cut
            for seg in self.plan[c["actor"]]
            if not configs[seg.scenario].has_iteration_budget
        )

    def undelivered_iterations(self, cut: list[dict[str, Any]]) -> int:
        """Iterations planned but never started: what each actor counted when it stopped
        early, plus what a lost (unreplaced) actor still had of an iteration budget."""
        total = sum(self.undelivered_iters.values())
        configs = {sc.name: sc for sc in self.options.scenarios}
        for c in cut:
            actor = c["actor"]
            if actor not in self.lost or self.lost[actor].get("replaced_by") is not None:
                continue
            done = self.done_iterations.get(actor, {})
            for seg in self.plan[actor]:
                sc = configs.get(seg.scenario)
                if sc is not None:
                    total += sc.iterations_left(seg, done.get(seg.scenario, 0))
        return total

    def distributions(self) -> dict[str, dict[str, Any]]:
        """Per-scenario latency distribution from the merged digests, for reports."""
        out: dict[str, dict[str, Any]] = {}
        for sc in self.options.scenarios:
            d = self._distribution((("scenario", sc.name),))
            if d is not None:
                out[sc.name] = d
        return out

    def overall_distribution(self) -> dict[str, Any] | None:
        """The whole run's latency distribution: the report's "all" row and p99 card read
        it, since k6's default summary trend stats carry no p(99)."""
        return self._distribution(())

    def _distribution(self, selector: Tags) -> dict[str, Any] | None:
        sink = self.total.aggregate("http_req_duration", selector)
        if not isinstance(sink, TrendSink) or sink.empty():
            return None
        d = sink.digest
        grid = sorted({*range(0, 100, 2), 95, 99, 99.9, 100})
        cents = d.centroids()
        step = max(1, len(cents) // 200)
        return {
            "count": d.count,
            "quantiles": {f"p({q:g})": d.quantile(q / 100.0) for q in grid},
            "centroids": [[m, w] for m, w in cents[::step]],
        }

    def series_report(self) -> dict[str, Any]:
        """How many series the driver kept, the limit, and what was folded past it."""
        folded = self.total.folded_samples()
        return {
            "count": len(self.total.series),
            "limit_per_metric": self.max_series,
            "warn_at": cardinality.WARN_SERIES,
            "overflow_series": self.total.overflow_series,
            "folded_samples": folded,
            "note": cardinality.note(folded, self.max_series),
        }

    def digests_and_counts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The whole run's latency digests (wire form, at most DEFAULT_MAX_CENTROIDS each,
        so any percentile can be recomputed later) and request/failure counts, for all
        requests and per scenario: what ``compare`` and the history read."""
        digests: dict[str, Any] = {"metric": "http_req_duration", "scenarios": {}}
        counts: dict[str, Any] = {"scenarios": {}}
        scopes: list[tuple[str, tuple[tuple[str, str], ...]]] = [(ALL, ())]
        scopes += [(sc.name, (("scenario", sc.name),)) for sc in self.options.scenarios]
        for name, sel in scopes:
            dur = self.total.aggregate("http_req_duration", sel)
            reqs = self.total.aggregate("http_reqs", sel)
            failed = self.total.aggregate("http_req_failed", sel)
            fv = failed.values(1.0) if failed else {"passes": 0.0, "fails": 0.0}
            entry = {
                "reqs": reqs.values(1.0)["count"] if reqs else 0.0,
                "failed": fv["passes"],
                "judged": fv["passes"] + fv["fails"],
            }
            wire = dur.digest.to_wire() if isinstance(dur, TrendSink) else None
            if name == ALL:
                digests[ALL], counts[ALL] = wire, entry
            else:
                digests["scenarios"][name], counts["scenarios"][name] = wire, entry
        return digests, counts

    def extras(self, start: float, end: float) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        actors = []
        digests, counts = self.digests_and_counts()
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
            "version": __version__,
            **({"data": merge_usage(self.data_use)} if self.data_use else {}),
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
            "series": self.series_report(),
            "intervals": self.series,
            "intervals_bound": {
                "max_points": MAX_POINTS,
                "recent_points": RECENT_POINTS,
                "old_bucket_intervals": self.timeline.width,
            },
            "digests": digests,
            "requests": counts,
        }
