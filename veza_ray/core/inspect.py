"""``veza-ray inspect``: what a script will do, and what each actor must carry, before load.

Pure: options, the plan and the sizing figures in, a JSON-able report and its text out.
Like ``k6 inspect`` it shows the normalised options; beyond it, the per-actor plan and
two estimates per actor: memory (``sizing``) and the requests per second it must
sustain. Arrival-rate scenarios fix their rate, so that estimate is exact up to the
requests per iteration. Closed-model (VU) scenarios run as fast as the flow and the
target allow, which no reading of a script can tell: their rate comes from a previous
run's summary (``--from-summary``: requests per second per VU, measured), or is shown
as unknown rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from veza_ray.core.datasplit import DataSpec, data_slices
from veza_ray.core.options import Options, ScenarioConfig
from veza_ray.core.plan import Segment
from veza_ray.core.sizing import MB, estimate_memory, memory_bytes, peak_vus

# What one actor core carried in bench/ (docs/BENCHMARKS.md, one core of the 2-core
# reference machine, lean client, check() + a custom Trend, nginx target): 23-27k req/s.
# The warning fires above the low end less a margin, since real flows do more per request.
ACTOR_RPS_CAPACITY = 20_000.0


def calibration(summary: Mapping[str, Any]) -> dict[str, float]:
    """Requests per second per active VU, per scenario, measured in a saved summary's
    per-interval series (``veza_ray.intervals``: reqs and active VUs each interval)."""
    vr = summary.get("veza_ray") if isinstance(summary, Mapping) else None
    points = vr.get("intervals") if isinstance(vr, Mapping) else None
    if not isinstance(points, list):
        return {}
    reqs: dict[str, float] = {}
    vu_s: dict[str, float] = {}
    prev_t = 0.0
    for point in points:
        if not isinstance(point, Mapping):
            continue
        t = float(point.get("t", prev_t))
        dt, prev_t = max(0.0, t - prev_t), t
        for name, entry in (point.get("scenarios") or {}).items():
            if not isinstance(entry, Mapping):
                continue
            reqs[name] = reqs.get(name, 0.0) + float(entry.get("reqs", 0.0))
            vu_s[name] = vu_s.get(name, 0.0) + float(entry.get("vus", 0.0)) * dt
    return {n: reqs[n] / vu_s[n] for n in reqs if vu_s.get(n, 0.0) > 0}


def rate_share(seg: Segment) -> float:
    """The share of an arrival-rate scenario's iterations this segment starts (its stripe:
    k6's execution-segment split, by the segments' VUs)."""
    return len(seg.stripe) / max(1, seg.stripe_period) if seg.max_vus else 0.0


def _scenario_row(sc: ScenarioConfig) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": sc.name,
        "executor": sc.executor,
        "exec": sc.exec,
        "start_time_s": sc.start_time,
        "max_duration_s": sc.run_duration,
        "graceful_stop_s": sc.graceful_stop,
        "max_vus": sc.max_vus_needed,
    }
    if sc.has_iteration_budget:
        row["iterations"] = sc.iterations
    rate = sc.peak_iterations_per_s()
    if rate is not None:
        row["peak_iterations_per_s"] = rate
    return row


def build_report(
    options: Options,
    plan: Sequence[Sequence[Segment]],
    rps_per_vu: Mapping[str, float] | None = None,
    data: Sequence[DataSpec] = (),
) -> dict[str, Any]:
    """The inspect report: options, totals, per-actor segments with estimates, and each
    data file's rows per actor (core/datasplit.py)."""
    scenarios = list(options.scenarios)
    configs = {sc.name: sc for sc in scenarios}
    actors = len(plan)
    est = estimate_memory(scenarios, actors)
    rows = []
    warnings: list[str] = []
    for i, segs in enumerate(plan):
        rps = 0.0
        unknown: list[str] = []
        vus = 0
        for seg in segs:
            sc = configs[seg.scenario]
            vus += seg.max_vus
            rate = sc.peak_iterations_per_s()
            if rate is not None:
                # At least one request per iteration; a summary could refine it.
                rps += rate * rate_share(seg)
            elif rps_per_vu and seg.scenario in rps_per_vu:
                rps += seg.vus * rps_per_vu[seg.scenario]
            elif seg.max_vus:
                unknown.append(seg.scenario)
        mem = memory_bytes(vus)
        row = {
            "actor": i,
            "segments": [
                {
                    "scenario": s.scenario,
                    "vus": s.vus,
                    "max_vus": s.max_vus,
                    "iterations": (
                        s.iterations if configs[s.scenario].has_iteration_budget else None
                    ),
                }
                for s in segs
            ],
            "vus": vus,
            "memory_mb": round(mem / MB, 1),
            "requests_per_s": None if unknown else round(rps, 1),
            "requests_per_s_known_part": round(rps, 1),
            "unknown_rate_scenarios": unknown,
        }
        rows.append(row)
        if rps > ACTOR_RPS_CAPACITY:
            warnings.append(
                f"actor {i} must sustain about {rps:,.0f} requests/s, more than one actor core "
                f"carries ({ACTOR_RPS_CAPACITY:,.0f}; docs/cluster.md): use "
                f"--actors {actors_needed(rps * actors, actors)} or more"
            )
    if any(r["unknown_rate_scenarios"] for r in rows):
        warnings.append(
            "closed-model (VU) scenarios run as fast as the flow and target allow: pass "
            "--from-summary with a previous run's summary JSON to estimate their requests/s"
        )
    return {
        "scenarios": [_scenario_row(sc) for sc in scenarios],
        "total": {
            "peak_vus": peak_vus(scenarios),
            "max_duration_s": max(
                (sc.start_time + sc.run_duration + sc.graceful_stop for sc in scenarios),
                default=0.0,
            ),
        },
        "thresholds": dict(options.thresholds),
        "plan": {
            "actors": actors,
            "memory_mb": round(est.bytes_needed / MB, 1),
            "per_actor": rows,
            "actor_rps_capacity": ACTOR_RPS_CAPACITY,
        },
        "data": data_slices(data, options, plan),
        "warnings": warnings,
    }


def auto_actors(options: Options, node_cpus: Sequence[int]) -> tuple[int, str]:
    """``--actors auto``: how many actors each node gets, and why.

    Arrival-rate scenarios fix their peak rate, so the actors needed follow from what one
    actor core carries (ACTOR_RPS_CAPACITY, at least one request per iteration), spread
    evenly over the nodes. Closed-model scenarios run as fast as the flow and the target
    allow, which no reading of the script can tell, so they get one actor per CPU: the
    most a node can give without two actors sharing a core.
    """
    nodes = max(1, len(node_cpus))
    per_node_max = max(1, min(node_cpus, default=1))
    closed = [sc.name for sc in options.scenarios if sc.peak_iterations_per_s() is None]
    if closed:
        return per_node_max, (
            f"closed-model scenario(s) {', '.join(closed)} set no rate of their own: one "
            f"actor per CPU ({per_node_max} per node)"
        )
    rate = sum(sc.peak_iterations_per_s() or 0.0 for sc in options.scenarios)
    needed = actors_needed(rate)
    per_node = min(per_node_max, -(-needed // nodes))
    why = (
        f"a peak of {rate:,.0f} iterations/s needs {needed} actor(s) at "
        f"{ACTOR_RPS_CAPACITY:,.0f} requests/s per actor core"
    )
    if per_node * nodes < needed:
        why += f"; the cluster's {per_node_max} CPU(s) per node cap it"
    return per_node, why


def actors_needed(total_rps: float, at_least: int = 1) -> int:
    """Actors (one core each) for a total request rate, by the measured per-core figure."""
    return max(at_least, math.ceil(total_rps / ACTOR_RPS_CAPACITY))


def render(report: Mapping[str, Any]) -> str:
    """The report as text for a terminal or a CI log."""
    lines = ["scenarios:"]
    for sc in report["scenarios"]:
        extra = ""
        if "iterations" in sc:
            extra = f", iterations {sc['iterations']}"
        if "peak_iterations_per_s" in sc:
            extra = f", up to {sc['peak_iterations_per_s']:g} iterations/s"
        lines.append(
            f"  {sc['name']}: {sc['executor']} (exec {sc['exec']}), max {sc['max_vus']} VUs, "
            f"starts at {sc['start_time_s']:g} s, runs up to {sc['max_duration_s']:g} s "
            f"(+{sc['graceful_stop_s']:g} s gracefulStop){extra}"
        )
    total = report["total"]
    lines.append(f"total: peak {total['peak_vus']} VUs, max duration {total['max_duration_s']:g} s")
    if report["thresholds"]:
        lines.append("thresholds:")
        for key, exprs in report["thresholds"].items():
            lines.append(f"  {key}: {exprs}")
    plan = report["plan"]
    lines.append(
        f"plan on {plan['actors']} actor(s): about {plan['memory_mb']:,.0f} MB in all "
        f"(one actor core carries about {plan['actor_rps_capacity']:,.0f} requests/s)"
    )
    for row in plan["per_actor"]:
        segs = ", ".join(
            f"{s['scenario']} {s['vus']}/{s['max_vus']} VUs"
            + (f" {s['iterations']} it" if s["iterations"] else "")
            for s in row["segments"]
        )
        rps = row["requests_per_s"]
        shown = (
            f"{rps:,.0f} req/s"
            if rps is not None
            else f"≥ {row['requests_per_s_known_part']:,.0f} req/s "
            f"(unknown for {', '.join(row['unknown_rate_scenarios'])})"
        )
        lines.append(f"  actor {row['actor']}: {segs}; ~{row['memory_mb']:,.0f} MB; {shown}")
    for f in report.get("data", ()):
        lines.append(
            f"data {f['name']}: {f['rows']} rows, {f['split']}, on_exhausted={f['on_exhausted']}"
        )
        for sl in f["slices"]:
            lines.append(
                f"  actor {sl['actor']} ({sl['scenario']}): rows {sl['rows']} ({sl['count']})"
            )
    for w in report["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
