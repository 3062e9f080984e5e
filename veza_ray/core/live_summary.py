"""The merged run so far, as a summary dict of the same layout as the end-of-run one.

Pure. The web dashboard renders this with the HTML report's own renderer, so the live
page and the report read one model and never disagree. It adds ``veza_ray.live`` (the
run is still going: elapsed, planned, each actor's latest loop lag and CPU) and keeps
the per-interval series bounded: a long run is bucketed to ``max_points`` intervals
(latency by its peak, counts by their sum), the first one always kept, so a page that
connects late still sees the run from its start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from veza_ray.core.merge import MergedRun
from veza_ray.core.summary import build_summary
from veza_ray.core.thresholds import Verdict

MAX_POINTS = 720
_PEAK = ("p95", "p99", "error_rate", "vus")


def verdicts_wire(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    """The verdicts as ``veza_ray.verdicts`` carries them at the end of a run."""
    return [
        {
            "metric_key": v.threshold.selector.source,
            "expression": v.threshold.condition.source,
            "aggregation": v.threshold.condition.aggregation,
            "operator": v.threshold.condition.operator,
            "bound": v.threshold.condition.bound,
            "observed": v.observed,
            "ok": v.ok,
            "abort_on_fail": v.threshold.abort_on_fail,
        }
        for v in verdicts
    ]


def _bucket(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Intervals folded into one: requests summed, rate averaged, latency at its peak."""
    out: dict[str, Any] = {"t": points[len(points) // 2]["t"], "scenarios": {}}
    names = {n for p in points for n in p.get("scenarios", {})}
    for name in names:
        entries = [p["scenarios"][name] for p in points if name in p.get("scenarios", {})]
        reqs = sum(float(e.get("reqs", 0.0)) for e in entries)
        folded = {k: max(float(e.get(k, 0.0)) for e in entries) for k in _PEAK}
        folded["reqs"] = reqs
        folded["rps"] = sum(float(e.get("rps", 0.0)) for e in entries) / len(entries)
        out["scenarios"][name] = folded
    return out


def bounded_series(
    series: Sequence[Mapping[str, Any]], max_points: int = MAX_POINTS
) -> list[dict[str, Any]]:
    """At most ``max_points`` intervals: the first kept whole, the rest bucketed evenly."""
    if len(series) <= max_points:
        return [dict(p) for p in series]
    size = -(-(len(series) - 1) // (max_points - 1))
    out = [dict(series[0])]
    for i in range(1, len(series), size):
        out.append(_bucket(series[i : i + size]))
    return out


def _live_actors(run: MergedRun, actors: list[dict[str, Any]]) -> int:
    """Each actor's latest loop lag and CPU, and its share of the planned VUs; the total."""
    total = sum(sum(a["vus"].values()) for a in actors if not a["lost"]) or 1
    for a in actors:
        lag, cpu = run.lag.get(a["id"], []), run.cpu.get(a["id"], [])
        a["loop_lag_ms_now"] = round(lag[-1], 2) if lag else None
        a["cpu_now"] = round(cpu[-1], 3) if cpu else None
        a["plan_share"] = 0.0 if a["lost"] else round(sum(a["vus"].values()) / total, 4)
    return total


def live_summary(
    run: MergedRun,
    verdicts: Sequence[Verdict],
    start_epoch: float,
    now: float,
    planned_s: float,
    trend_stats: Sequence[str],
    tree: Mapping[str, Mapping[str, Any]],
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """The summary of the run so far (no outcome yet: the run has not ended)."""
    elapsed = max(1e-9, now - start_epoch)
    extras = run.extras(start_epoch, now)
    extras["intervals"] = bounded_series(run.series, max_points)
    extras["errors"] = dict(run.errors)  # the server's thread reads it while the driver counts
    for node in extras["nodes"]:
        node["aggregator"] = dict(tree.get(node["node_id"], {"status": "none: pulled directly"}))
    cut = run.cut_short(planned_s, start_epoch)
    extras["delivery"] = {
        "planned_s": round(planned_s, 3),
        "ran_s": round(elapsed, 3),
        "undelivered_vu_seconds": round(run.undelivered_vu_seconds(cut), 3),
        "undelivered_iterations": run.undelivered_iterations(cut),
        "cut_short": cut,
    }
    extras["verdicts"] = verdicts_wire(verdicts)
    extras["distributions"] = run.distributions()
    extras["scenarios"] = [sc.name for sc in run.options.scenarios]
    extras["options"] = dict(run.options.raw)
    extras["live"] = {
        "running": True,
        "elapsed_s": round(elapsed, 3),
        "planned_s": round(planned_s, 3),
        "planned_vus": _live_actors(run, extras["actors"]),
        "scenarios": run.stats_by_scenario(),
        "points": len(run.series),
        "first_t": run.series[0]["t"] if run.series else None,
    }
    return build_summary(run.total, verdicts, trend_stats, elapsed, False, extras)
