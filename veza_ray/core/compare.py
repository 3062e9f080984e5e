"""Compare two runs: per threshold metric, globally and per scenario, a verdict that
knows noise.

Pure. ``run_data`` reduces a summary to what a comparison needs (the digests in wire
form, request and failure counts, each interval's p95); the history database stores
exactly that, so a summary file and a recorded run compare the same way.

A row is ``worse`` only when both hold:

- the change is larger than a relative floor (``floor``, default 10 %; rates must also
  move by ``rate_floor`` absolute, default 0.1 point, so 0.01 % -> 0.02 % is not a
  regression), and
- a test on the runs' own data says it is not chance (p < ``alpha``, default 0.01):
  latency rows use Mann-Whitney U on the per-interval p95s (a rank test: no assumption
  on the shape of latency, robust to a few wild intervals); rate rows use a two-proportion
  z test on the failed and total request counts.

Beyond the floor but not significant is ``noise``; within the floor is ``same``; a
significant improvement beyond the floor is ``better``. Higher is worse for every row
judged (latency, error rates). When either run's load generators were saturated, no
latency row is called worse or better (``noise``, with a note): the generator's own
delay was in the measurement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veza_ray.core.digest import Digest, DigestWire
from veza_ray.core.series import ALL
from veza_ray.core.stats import TestResult, mann_whitney_u, two_proportions

DEFAULT_FLOOR = 0.10
DEFAULT_RATE_FLOOR = 0.001
DEFAULT_ALPHA = 0.01
MIN_INTERVAL_REQS = 5  # an interval with fewer requests has no meaningful p95
MIN_INTERVALS = 3  # fewer per run: the rank test cannot reach p < 0.01, no verdict
DURATION = "http_req_duration"
FAILED = "http_req_failed"


@dataclass(frozen=True)
class CompareSettings:
    floor: float = DEFAULT_FLOOR
    rate_floor: float = DEFAULT_RATE_FLOOR
    alpha: float = DEFAULT_ALPHA


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _quantiles(wire: Mapping[str, Any] | None) -> dict[str, float] | None:
    if not wire:
        return None
    d = Digest.from_wire(wire)  # type: ignore[arg-type]
    return {"p50": d.quantile(0.5), "p95": d.quantile(0.95), "p99": d.quantile(0.99)}


def run_data(summary: Mapping[str, Any], label: str = "") -> dict[str, Any]:
    """What a comparison reads from a summary; JSON-ready (the history stores it)."""
    vr = _map(summary.get("veza_ray"))
    metrics = _map(summary.get("metrics"))
    scenarios = [str(s) for s in vr.get("scenarios") or ()]
    duration = float(_map(summary.get("state")).get("testRunDurationMs") or 0.0) / 1000.0
    kinds = {k: str(_map(v).get("type", "")) for k, v in metrics.items()}
    trends: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[str, float]] = {}
    for key, entry in metrics.items():
        vals = _map(_map(entry).get("values"))
        if kinds[key] == "trend":
            trends[key] = {
                "p50": float(vals.get("med", vals.get("p(50)", 0.0)) or 0.0),
                "p95": float(vals.get("p(95)", 0.0) or 0.0),
                "p99": float(vals.get("p(99)", 0.0) or 0.0),
            }
        elif kinds[key] == "rate":
            passes, fails = float(vals.get("passes", 0)), float(vals.get("fails", 0))
            rates[key] = {"k": passes, "n": passes + fails}
    samples: dict[str, list[float]] = {}
    for point in vr.get("intervals") or ():
        scopes = dict(_map(_map(point).get("scenarios")))
        if ALL in _map(point):
            scopes[ALL] = point[ALL]
        for name, entry in scopes.items():
            if float(_map(entry).get("reqs", 0)) >= MIN_INTERVAL_REQS:
                samples.setdefault(name, []).append(float(entry["p95"]))
    return {
        "label": label,
        "scenarios": scenarios,
        "duration_s": duration,
        "thresholds": [dict(v) for v in vr.get("verdicts") or ()],
        "kinds": kinds,
        "trends": trends,
        "rates": rates,
        "digests": dict(_map(vr.get("digests"))),
        "requests": dict(_map(vr.get("requests"))),
        "interval_p95": samples,
        "saturated": bool(_map(vr.get("generator_health")).get("saturated")),
    }


def _threshold_metrics(data: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for t in data.get("thresholds") or ():
        name = str(t.get("metric_key", "")).split("{", 1)[0]
        if name and name not in names:
            names.append(name)
    return names


def scope_stats(data: Mapping[str, Any], scope: str) -> dict[str, float | None]:
    """p50/p95/p99 from the scope's merged digest (else the summary's trend values),
    requests/s and error rate from its counts."""
    digests = _map(data.get("digests"))
    wire = digests.get(ALL) if scope == ALL else _map(digests.get("scenarios")).get(scope)
    q = _quantiles(wire)
    if q is None:
        key = DURATION if scope == ALL else f"{DURATION}{{scenario:{scope}}}"
        q = dict(_map(data.get("trends")).get(key) or {}) or None
    reqs = _map(data.get("requests"))
    counts = _map(reqs.get(ALL) if scope == ALL else _map(reqs.get("scenarios")).get(scope))
    duration = float(data.get("duration_s") or 0.0)
    n = float(counts.get("reqs", 0.0))
    judged = float(counts.get("judged", 0.0))
    return {
        "p50": q["p50"] if q else None,
        "p95": q["p95"] if q else None,
        "p99": q["p99"] if q else None,
        "rps": n / duration if duration > 0 and counts else None,
        "error_rate": float(counts.get("failed", 0.0)) / judged if judged else None,
    }


def _change(base: float | None, new: float | None) -> float | None:
    if base is None or new is None:
        return None
    if base == 0:
        return 0.0 if new == 0 else math.inf
    return (new - base) / base


def _verdict(
    change: float | None, diff: float, test: TestResult | None, s: CompareSettings, rate: bool
) -> str:
    if change is None:
        return "same"
    if abs(change) <= s.floor or (rate and abs(diff) < s.rate_floor):
        return "same"
    if test is None or test.p_value >= s.alpha:
        return "noise"
    return "worse" if change > 0 else "better"


def _latency_row(
    base: Mapping[str, Any], new: Mapping[str, Any], scope: str, s: CompareSettings
) -> dict[str, Any]:
    b, n = scope_stats(base, scope), scope_stats(new, scope)
    xs = list(_map(base.get("interval_p95")).get(scope) or ())
    ys = list(_map(new.get("interval_p95")).get(scope) or ())
    test = None
    if len(xs) >= MIN_INTERVALS and len(ys) >= MIN_INTERVALS:
        test = mann_whitney_u(ys, xs)
    change = _change(b["p95"], n["p95"])
    diff = (n["p95"] or 0.0) - (b["p95"] or 0.0)
    verdict = _verdict(change, diff, test, s, False)
    if verdict in ("worse", "better") and (base.get("saturated") or new.get("saturated")):
        verdict = "noise"  # a saturated generator measured its own delay (see notes)
    return _row(
        DURATION,
        scope,
        "p(95)",
        b,
        n,
        change,
        test,
        verdict,
        f"per-interval p95: {len(xs)} vs {len(ys)} intervals",
    )


def _counts(data: Mapping[str, Any], metric: str, scope: str) -> tuple[float, float] | None:
    if metric == FAILED:
        reqs = _map(data.get("requests"))
        c = _map(reqs.get(ALL) if scope == ALL else _map(reqs.get("scenarios")).get(scope))
        if c:
            return float(c.get("failed", 0.0)), float(c.get("judged", 0.0))
        if scope != ALL:
            return None
    r = _map(data.get("rates")).get(metric)
    return (float(r["k"]), float(r["n"])) if r else None


def _rate_row(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    metric: str,
    scope: str,
    s: CompareSettings,
) -> dict[str, Any] | None:
    bc, nc = _counts(base, metric, scope), _counts(new, metric, scope)
    if bc is None or nc is None:
        return None
    b_rate = bc[0] / bc[1] if bc[1] else 0.0
    n_rate = nc[0] / nc[1] if nc[1] else 0.0
    # a rate row shows the rate and the scope's throughput, not its latency
    b = {"rate": b_rate, "rps": scope_stats(base, scope)["rps"]}
    n = {"rate": n_rate, "rps": scope_stats(new, scope)["rps"]}
    test = two_proportions(int(bc[0]), int(bc[1]), int(nc[0]), int(nc[1]))
    change = _change(b_rate, n_rate)
    verdict = _verdict(change, n_rate - b_rate, test, s, True)
    return _row(
        metric,
        scope,
        "rate",
        b,
        n,
        change,
        test,
        verdict,
        f"{int(bc[0])}/{int(bc[1])} vs {int(nc[0])}/{int(nc[1])}",
    )


def _row(
    metric: str,
    scope: str,
    stat: str,
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    change: float | None,
    test: TestResult | None,
    verdict: str,
    sample: str,
) -> dict[str, Any]:
    return {
        "metric": metric,
        "scope": scope,
        "key": metric if scope == ALL else f"{metric}{{scenario:{scope}}}",
        "stat": stat,
        "base": dict(base),
        "new": dict(new),
        "change_pct": None if change is None else (change * 100 if math.isfinite(change) else None),
        "test": test.name if test else "none (too few intervals)",
        "statistic": test.statistic if test else None,
        "p_value": test.p_value if test else None,
        "sample": sample,
        "verdict": verdict,
    }


def compare(
    base: Mapping[str, Any], new: Mapping[str, Any], settings: CompareSettings | None = None
) -> dict[str, Any]:
    """Every row and the overall answer; ``base``/``new`` come from ``run_data``."""
    s = settings or CompareSettings()
    scenarios = [x for x in new.get("scenarios") or () if x in (base.get("scenarios") or ())]
    rows: list[dict[str, Any]] = []
    for metric in _threshold_metrics(new):
        kind = _map(new.get("kinds")).get(metric, "")
        scopes = [ALL, *scenarios] if metric in (DURATION, FAILED) else [ALL]
        for scope in scopes:
            if metric == DURATION:
                rows.append(_latency_row(base, new, scope, s))
            elif kind == "rate":
                row = _rate_row(base, new, metric, scope, s)
                if row is not None:
                    rows.append(row)
    worse = [r["key"] + " " + r["stat"] for r in rows if r["verdict"] == "worse"]
    notes = [
        f"the load generators of {side.get('label') or which} were saturated: its latency "
        "measures their own delay too, so no latency row is called worse or better"
        for which, side in (("the baseline", base), ("the new run", new))
        if side.get("saturated")
    ]
    return {
        "base": base.get("label", ""),
        "new": new.get("label", ""),
        "floor_pct": s.floor * 100,
        "rate_floor": s.rate_floor,
        "alpha": s.alpha,
        "rows": rows,
        "worse": worse,
        "regressed": bool(worse),
        "notes": notes,
    }


def regression_reasons(result: Mapping[str, Any]) -> tuple[str, ...]:
    """One line per worse row, as the outcome lists it."""
    out = []
    for r in result.get("rows") or ():
        if r["verdict"] != "worse":
            continue
        b = r["base"].get("rate" if r["stat"] == "rate" else "p95")
        n = r["new"].get("rate" if r["stat"] == "rate" else "p95")
        out.append(
            f"{r['key']} {r['stat']} {_fmt(b, r['stat'])} -> {_fmt(n, r['stat'])} "
            f"({r['change_pct']:+.1f} %, {r['test']} p = {r['p_value']:.2g}) "
            f"against baseline {result.get('base', '')}"
        )
    return tuple(out)


def _fmt(value: Any, stat: str) -> str:
    if value is None:
        return "-"
    if stat == "rate":
        return f"{float(value) * 100:.3g} %"
    return f"{float(value):.4g} ms"


def _pct(x: Any) -> str:
    return "-" if x is None else f"{float(x):+.1f} %"


def _p(x: Any) -> str:
    return "-" if x is None else f"{float(x):.2g}"


def table(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and cells, shared by the text and Markdown renderings."""
    head = [
        "metric",
        "stat",
        "base p50",
        "base p95",
        "base p99",
        "new p50",
        "new p95",
        "new p99",
        "base err",
        "new err",
        "base rps",
        "new rps",
        "change",
        "test",
        "p",
        "verdict",
    ]
    rows: list[list[str]] = []
    for r in result.get("rows") or ():
        b, n = r["base"], r["new"]
        stat = r["stat"]
        cells = [r["key"], stat]
        cells += [_fmt(b.get(k), "p") for k in ("p50", "p95", "p99")]
        cells += [_fmt(n.get(k), "p") for k in ("p50", "p95", "p99")]
        err_key = "rate" if stat == "rate" else "error_rate"
        cells += [_fmt(b.get(err_key), "rate"), _fmt(n.get(err_key), "rate")]
        cells += [_num(b.get("rps")), _num(n.get("rps"))]
        cells += [_pct(r["change_pct"]), r["test"], _p(r["p_value"]), r["verdict"]]
        rows.append(cells)
    return head, rows


def _num(x: Any) -> str:
    return "-" if x is None else f"{float(x):.1f}"


def render_text(result: Mapping[str, Any]) -> str:
    head, rows = table(result)
    widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
    lines = [
        f"compare: base {result['base']} -> new {result['new']} (floor "
        f"{result['floor_pct']:g} %, alpha {result['alpha']:g})",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(_conclusion(result))
    lines += [f"note: {n}" for n in result.get("notes") or ()]
    return "\n".join(lines) + "\n"


def _conclusion(result: Mapping[str, Any]) -> str:
    if result["worse"]:
        return "REGRESSION: " + ", ".join(result["worse"])
    return "no regression: no row is worse than the baseline"


def render_markdown(result: Mapping[str, Any], escape: Any = str) -> str:
    """A pull-request comment: a heading with the answer, then the table."""
    head, rows = table(result)
    icon = "❌" if result["worse"] else "✅"
    lines = [
        f"### {icon} veza-ray compare: {escape(_conclusion(result))}",
        "",
        f"Baseline `{escape(result['base'])}`, new `{escape(result['new'])}`. A row is "
        f"*worse* when it moved by more than {result['floor_pct']:g} % and its test says "
        f"p < {result['alpha']:g}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        cells = [escape(c) for c in row]
        if row[-1] == "worse":
            cells[-1] = "**worse**"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- ⚠️ {escape(n)}" for n in result.get("notes") or ())]
    return "\n".join(lines) + "\n"


def verdict_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out = {"same": 0, "better": 0, "worse": 0, "noise": 0}
    for r in rows:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out


def digest_wire(d: Digest) -> DigestWire:
    """A digest as the summary and the history store it: the portable dict form."""
    return d.to_wire(binary=False)
