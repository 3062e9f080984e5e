"""The merged run so far, as a summary dict of the same layout as the end-of-run one.

Pure. The web dashboard renders this with the HTML report's own renderer, so the live
page and the report read one model and never disagree. It adds ``veza_ray.live`` (the
run is still going: elapsed, planned, each actor's latest loop lag and CPU). The series
is the driver's own, bounded by ``core/series.py`` from the run's first interval, so a
page that connects late still sees the run from its start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from veza_ray.core.merge import MergedRun
from veza_ray.core.summary import build_summary
from veza_ray.core.thresholds import Verdict


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
) -> dict[str, Any]:
    """The summary of the run so far (no outcome yet: the run has not ended)."""
    elapsed = max(1e-9, now - start_epoch)
    extras = run.extras(start_epoch, now)
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
    extras["verdicts"] = [v.to_wire() for v in verdicts]
    extras["distributions"] = run.distributions()
    extras["overall_distribution"] = run.overall_distribution()
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
