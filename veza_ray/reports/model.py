"""A summary dict read once into the plain facts every report shows.

The summary is user-controlled JSON (a saved file can come from an older veza-ray, from
k6 itself, or be edited by hand), so everything here is read defensively: a missing or
odd-typed key gives "unknown", never an exception. The three renderers then agree on the
verdict, the thresholds and the per-scenario numbers because they all read this model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veza_ray.core import thresholds
from veza_ray.core.outcome import ActorCutShort, Outcome, RunFacts, decide
from veza_ray.core.thresholds import crossed_text
from veza_ray.reports import fmt

LATENCY_METRIC = "http_req_duration"
FAILED_METRIC = "http_req_failed"


# ---- small defensive readers -----------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def parse_selector(key: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``metric{tag:value,...}`` -> (metric, tags), by the thresholds' own grammar; a key
    that grammar refuses (a hand-edited summary) is shown as a plain name."""
    try:
        sel = thresholds.parse_selector(key)
    except thresholds.ThresholdError:
        return key.strip(), ()
    return sel.metric, sel.tags


def parse_expression(expr: str) -> tuple[str, str, float | None]:
    """``p(95)<500`` -> ("p(95)", "<", 500.0) by the thresholds' own grammar;
    unparseable -> (expr, "", None), so a report still shows what it cannot read."""
    try:
        cond = thresholds.parse_condition(expr)
    except thresholds.ThresholdError:
        return expr.strip(), "", None
    return cond.aggregation, cond.operator, cond.bound


# ---- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """One threshold with its measured value beside its bound."""

    metric_key: str
    expression: str
    aggregation: str
    operator: str
    bound: float | None
    observed: float | None
    ok: bool
    contains: str = "default"
    abort_on_fail: bool = False

    @property
    def metric(self) -> str:
        return parse_selector(self.metric_key)[0]

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        return parse_selector(self.metric_key)[1]

    def applies_to(self, scenario: str) -> bool:
        """A global threshold (no tags) or one tagged for exactly this scenario."""
        tags = self.tags
        return not tags or tags == (("scenario", scenario),)

    @property
    def scope(self) -> str:
        tags = self.tags
        if not tags:
            return "global"
        if len(tags) == 1 and tags[0][0] == "scenario":
            return tags[0][1]
        return ",".join(f"{k}:{v}" for k, v in tags)


@dataclass(frozen=True)
class Check:
    name: str
    passes: int
    fails: int


@dataclass(frozen=True)
class Point:
    """One interval of one scenario; latency and error rate are None without requests."""

    t: float
    reqs: float
    rps: float
    p95: float | None
    p99: float | None
    error_rate: float | None
    vus: float
    p50: float | None = None


@dataclass(frozen=True)
class ScenarioStats:
    name: str
    requests: float | None
    rps: float | None
    p95: float | None
    p99: float | None
    failed_rate: float | None
    vus_max: float | None
    p50: float | None = None


@dataclass(frozen=True)
class Distribution:
    """Quantiles (percent -> ms) and optional digest centroids (mean, weight)."""

    quantiles: dict[float, float]
    centroids: list[tuple[float, float]]
    count: float | None = None

    def exact(self, pct: float) -> float | None:
        """The quantile as the digest reported it, or None when not on its grid."""
        return self.quantiles.get(pct)

    def q(self, pct: float) -> float | None:
        """The quantile, linearly interpolated between grid neighbours when not on it."""
        if pct in self.quantiles:
            return self.quantiles[pct]
        below = [p for p in self.quantiles if p < pct]
        above = [p for p in self.quantiles if p > pct]
        if not below or not above:
            return None
        p0, p1 = max(below), min(above)
        q0, q1 = self.quantiles[p0], self.quantiles[p1]
        return q0 + (q1 - q0) * (pct - p0) / (p1 - p0)


@dataclass(frozen=True)
class Verdict:
    """PASS or FAIL with the reasons a person needs, and the exit code it implies."""

    ok: bool
    exit_code: int
    reasons: list[str]
    warnings: list[str]

    @property
    def status(self) -> str:
        return "PASS" if self.ok else "FAIL"


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    thresholds: list[Threshold]
    checks: list[Check]
    scenarios: list[str]
    series: dict[str, list[Point]]
    stats: list[ScenarioStats]
    overall: ScenarioStats
    distributions: dict[str, Distribution]
    duration_s: float | None
    start_epoch: float | None
    actors: list[Mapping[str, Any]]
    nodes: list[Mapping[str, Any]]
    lost_actors: list[Mapping[str, Any]]
    lost_vu_seconds: float
    health: Mapping[str, Any]
    errors: list[tuple[str, int]]
    options: Mapping[str, Any] | None
    trend_stats: list[str]
    version: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)  # the summary's, as k6 lays out

    @property
    def live(self) -> Mapping[str, Any]:
        """``veza_ray.live`` of a run still going (the web dashboard); empty at the end."""
        return _map(self.extra.get("live"))

    def scenario_thresholds(self, scenario: str, metric: str) -> list[Threshold]:
        return [t for t in self.thresholds if t.metric == metric and t.applies_to(scenario)]


def build(summary: Mapping[str, Any]) -> Report:
    """Read a summary dict (k6 handleSummary layout, plus ``veza_ray`` extras)."""
    summary = _map(summary)
    metrics = _map(summary.get("metrics"))
    vr = _map(summary.get("veza_ray"))
    state = _map(summary.get("state"))
    run = _map(vr.get("run"))
    duration = _num(run.get("duration_s"))
    if duration is None:
        dms = _num(state.get("testRunDurationMs"))
        duration = dms / 1000.0 if dms is not None else None
    thresholds = _thresholds(metrics, _list(vr.get("verdicts")))
    checks = list(_checks(_map(summary.get("root_group"))))
    options = vr.get("options") if isinstance(vr.get("options"), Mapping) else None
    scenarios = _scenario_names(vr, options)
    series = {name: _series(_list(vr.get("intervals")), name) for name in scenarios}
    distributions = _distributions(_map(vr.get("distributions")))
    stats = [_stats(name, series[name], metrics, distributions, duration) for name in scenarios]
    whole = _distributions({"all": _map(vr.get("overall_distribution"))}).get("all")
    overall = _overall(metrics, series, whole)
    health = _map(vr.get("generator_health"))
    lost = [_map(a) for a in _list(vr.get("lost_actors"))]
    lost_vus = _num(vr.get("lost_vu_seconds")) or 0.0
    errors = sorted(
        ((_str(k), int(v)) for k, v in _map(vr.get("errors")).items() if _num(v) is not None),
        key=lambda kv: -kv[1],
    )
    verdict = _verdict(thresholds, checks, health, lost, lost_vus)
    saved = Outcome.from_wire(vr.get("outcome"))
    if saved is not None:  # the run's own decision; older summaries fall back to the above
        verdict = Verdict(
            ok=saved.ok,
            exit_code=saved.code,
            reasons=list(saved.reasons),
            warnings=list(saved.notes) + [w for w in verdict.warnings if "saturated" not in w],
        )
    trend_stats = [_str(s) for s in _list(_map(summary.get("options")).get("summaryTrendStats"))]
    return Report(
        verdict=verdict,
        thresholds=thresholds,
        checks=checks,
        scenarios=scenarios,
        series=series,
        stats=stats,
        overall=overall,
        distributions=distributions,
        duration_s=duration,
        start_epoch=_num(run.get("start_epoch")),
        actors=[_map(a) for a in _list(vr.get("actors"))],
        nodes=[_map(n) for n in _list(vr.get("nodes"))],
        lost_actors=lost,
        lost_vu_seconds=lost_vus,
        health=health,
        errors=errors,
        options=options,
        trend_stats=trend_stats,
        version=_str(vr.get("version")) or "",
        extra=vr,
        metrics=metrics,
    )


def _thresholds(metrics: Mapping[str, Any], verdicts: Sequence[Any]) -> list[Threshold]:
    """From ``veza_ray.verdicts`` when present (measured values), else from ``metrics``."""
    out: list[Threshold] = []
    for raw in verdicts:
        v = _map(raw)
        key, expr = _str(v.get("metric_key")), _str(v.get("expression"))
        if not key or not expr:
            continue
        agg, op, bound = parse_expression(expr)
        entry = _map(metrics.get(key))
        out.append(
            Threshold(
                metric_key=key,
                expression=expr,
                aggregation=_str(v.get("aggregation")) or agg,
                operator=_str(v.get("operator")) or op,
                bound=_num(v.get("bound")) if _num(v.get("bound")) is not None else bound,
                observed=_num(v.get("observed")),
                ok=bool(v.get("ok")),
                contains=_contains(entry, key, metrics),
                abort_on_fail=bool(v.get("abort_on_fail")),
            )
        )
    if out:
        return out
    for key in metrics:
        entry = _map(metrics.get(key))
        for expr, res in _map(entry.get("thresholds")).items():
            agg, op, bound = parse_expression(_str(expr))
            values = _map(entry.get("values"))
            out.append(
                Threshold(
                    metric_key=_str(key),
                    expression=_str(expr),
                    aggregation=agg,
                    operator=op,
                    bound=bound,
                    observed=_num(values.get(agg)),
                    ok=bool(_map(res).get("ok")),
                    contains=_contains(entry, _str(key), metrics),
                )
            )
    return out


def _contains(entry: Mapping[str, Any], key: str, metrics: Mapping[str, Any]) -> str:
    contains = _str(entry.get("contains"))
    if not contains:
        contains = _str(_map(metrics.get(parse_selector(key)[0])).get("contains"))
    return contains or "default"


def _checks(group: Mapping[str, Any]) -> Iterable[Check]:
    for c in _list(group.get("checks")):
        c = _map(c)
        yield Check(
            name=_str(c.get("name")),
            passes=int(_num(c.get("passes")) or 0),
            fails=int(_num(c.get("fails")) or 0),
        )
    for sub in _list(group.get("groups")):
        yield from _checks(_map(sub))


def _scenario_names(vr: Mapping[str, Any], options: Mapping[str, Any] | None) -> list[str]:
    names = [_str(n) for n in _list(vr.get("scenarios"))]
    if not names and options:
        names = [_str(n) for n in _map(options.get("scenarios"))]
    if not names:
        seen: dict[str, None] = {}
        for point in _list(vr.get("intervals")):
            for n in _map(_map(point).get("scenarios")):
                seen.setdefault(_str(n), None)
        for n in _map(vr.get("distributions")):
            seen.setdefault(_str(n), None)
        names = list(seen)
    return [n for n in dict.fromkeys(names) if n]


def _series(intervals: Sequence[Any], name: str) -> list[Point]:
    points: list[Point] = []
    for raw in intervals:
        p = _map(raw)
        t = _num(p.get("t"))
        sc = _map(_map(p.get("scenarios")).get(name))
        if t is None or not sc:
            continue
        reqs = _num(sc.get("reqs")) or 0.0
        has = reqs > 0
        points.append(
            Point(
                t=t,
                reqs=reqs,
                rps=_num(sc.get("rps")) or 0.0,
                p95=_num(sc.get("p95")) if has else None,
                p99=_num(sc.get("p99")) if has else None,
                error_rate=_num(sc.get("error_rate")) if has else None,
                vus=_num(sc.get("vus")) or 0.0,
                p50=_num(sc.get("p50")) if has else None,
            )
        )
    return points


def _distributions(raw: Mapping[str, Any]) -> dict[str, Distribution]:
    out: dict[str, Distribution] = {}
    for name, d in raw.items():
        d = _map(d)
        qs: dict[float, float] = {}
        for label, value in _map(d.get("quantiles")).items():
            agg, _, _ = parse_expression(f"{label}<0")
            v = _num(value)
            if agg.startswith("p(") and v is not None:
                qs[float(agg[2:-1])] = v
        cents = []
        for c in _list(d.get("centroids")):
            pair = _list(c)
            if len(pair) >= 2:
                m, w = _num(pair[0]), _num(pair[1])
                if m is not None and w is not None and w > 0:
                    cents.append((m, w))
        if qs or cents:
            out[_str(name)] = Distribution(dict(sorted(qs.items())), cents, _num(d.get("count")))
    return out


def _stats(
    name: str,
    points: Sequence[Point],
    metrics: Mapping[str, Any],
    dists: Mapping[str, Distribution],
    duration: float | None,
) -> ScenarioStats:
    """p95/p99 from the digest grid, else the sub-metric, else interpolated on the grid;
    counts and failures from the intervals."""
    sub = _map(_map(metrics.get(f"{LATENCY_METRIC}{{scenario:{name}}}")).get("values"))
    dist = dists.get(name)

    def quantile(pct: float) -> float | None:
        exact = dist.exact(pct) if dist else None
        if exact is not None:
            return exact
        given = _num(sub.get(f"p({pct:g})"))
        if given is not None:
            return given
        return dist.q(pct) if dist else None

    p95, p99 = quantile(95.0), quantile(99.0)
    requests: float | None = None
    failed: float | None = None
    if points:
        requests = sum(p.reqs for p in points)
        weighted = sum((p.error_rate or 0.0) * p.reqs for p in points)
        failed = weighted / requests if requests > 0 else None
    if failed is None:
        failed = _num(
            _map(_map(metrics.get(f"{FAILED_METRIC}{{scenario:{name}}}")).get("values")).get("rate")
        )
    rps = requests / duration if requests is not None and duration else None
    vus_max = max((p.vus for p in points), default=None)
    return ScenarioStats(name, requests, rps, p95, p99, failed, vus_max, quantile(50.0))


def _overall(
    metrics: Mapping[str, Any], series: Mapping[str, list[Point]], whole: Distribution | None
) -> ScenarioStats:
    """The "all" row: k6's summary values where its trend stats have them, else the whole
    run's merged digest (k6's default stats have no p(99))."""
    lat = _map(_map(metrics.get(LATENCY_METRIC)).get("values"))
    failed = _map(_map(metrics.get(FAILED_METRIC)).get("values"))
    reqs = _map(_map(metrics.get("http_reqs")).get("values"))
    vus = _map(_map(metrics.get("vus_max")).get("values"))
    vus_max = _num(vus.get("max"))
    if vus_max is None or vus_max == 0:
        totals: dict[float, float] = {}
        for points in series.values():
            for p in points:
                totals[p.t] = totals.get(p.t, 0.0) + p.vus
        vus_max = max(totals.values(), default=vus_max)
    return ScenarioStats(
        name="all",
        requests=_num(reqs.get("count")),
        rps=_num(reqs.get("rate")),
        p95=_quantile(lat, "p(95)", 95.0, whole),
        p99=_quantile(lat, "p(99)", 99.0, whole),
        failed_rate=_num(failed.get("rate")),
        vus_max=vus_max,
        p50=_quantile(lat, "med", 50.0, whole),
    )


def _quantile(
    values: Mapping[str, Any], key: str, pct: float, whole: Distribution | None
) -> float | None:
    given = _num(values.get(key))
    if given is not None or whole is None:
        return given
    exact = whole.exact(pct)
    return exact if exact is not None else whole.q(pct)


def _verdict(
    thresholds: Sequence[Threshold],
    checks: Sequence[Check],
    health: Mapping[str, Any],
    lost: Sequence[Mapping[str, Any]],
    lost_vu_seconds: float,
) -> Verdict:
    """For a summary saved before outcomes were recorded: its facts through the run's own
    decision (``core.outcome.decide``), so the code and the wording are the run's. Such
    summaries predate exit 112: saturation there is a note, as it was then. A summary with
    ``veza_ray.outcome`` is shown as the run decided."""
    crossed = tuple(
        crossed_text(
            f"{t.metric_key} {t.expression}",
            t.aggregation,
            fmt.metric_value(t.observed, t.contains, t.aggregation),
        )
        for t in thresholds
        if not t.ok
    )
    cut_short = tuple(
        ActorCutShort(
            actor=int(_num(_map(a).get("id")) or 0),
            address=_str(_map(a).get("address")),
            why="lost: " + _str(_map(a).get("why")),
            at_s=_num(_map(a).get("at_s")) or 0.0,
        )
        for a in lost
    )
    saturated: tuple[str, ...] = ()
    if health.get("saturated"):
        saturated = tuple(
            f"actor {_str(_map(a).get('id'))} on {_str(_map(a).get('address'))}"
            for a in _list(health.get("actors"))
        )
    outcome = decide(
        RunFacts(
            crossed=crossed,
            cut_short=cut_short,
            undelivered_vu_seconds=lost_vu_seconds,
            saturated=saturated,
            allow_saturated=True,
        )
    )
    warnings = list(outcome.notes)
    failing = [c for c in checks if c.fails > 0]
    if failing:
        warnings.append(
            f"{len(failing)} of {len(checks)} check(s) had failures: "
            + ", ".join(f"{c.name} ({c.fails} failed)" for c in failing[:5])
        )
    if not thresholds:
        warnings.append("no thresholds were defined: PASS only means the run completed")
    return Verdict(
        ok=outcome.ok, exit_code=outcome.code, reasons=list(outcome.reasons), warnings=warnings
    )
