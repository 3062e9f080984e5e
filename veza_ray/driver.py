"""The driver: validate, place actors, start them together, pull, merge, judge, report.

Validation (``prepare``) needs no Ray and sends nothing, so every bad input is refused
before a single request. ``execute`` is the I/O loop: one pull per actor about once a
second, merged into a cumulative store and a per-interval series; thresholds judged on
the merged data only, abortOnFail about every 2 s.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from veza_ray import exitcodes
from veza_ray.digest import DEFAULT_MAX_CENTROIDS, WIRE_VERSION
from veza_ray.guards import host_refusal, parse_allowed, redact, redact_obj, secret_values
from veza_ray.live import LiveView, progress_rows
from veza_ray.metrics import MetricStore, TrendSink
from veza_ray.options import Options, OptionsError, parse_options, parse_trend_stats
from veza_ray.plan import Segment, make_plan, planned_vu_seconds
from veza_ray.runner import ActorDelta, ScenarioStats, lag_p99
from veza_ray.scenario import (
    LoadedScript,
    ScriptError,
    ScriptOptionsError,
    check_flows,
    load_script,
)
from veza_ray.summary import build_summary, render_text
from veza_ray.thresholds import (
    Threshold,
    ThresholdError,
    Verdict,
    judge,
    parse_thresholds,
    should_abort,
)


class RunError(Exception):
    """A refusal with the exit code it maps to; the message names the bad part."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunConfig:
    """Everything the CLI decided; passed down instead of read from globals."""

    script_path: str
    env_overrides: dict[str, str] = field(default_factory=dict)
    actors: int | None = None
    address: str | None = None
    summary_export: str | None = None
    trend_stats: str | None = None
    quiet: bool = False
    pull_interval: float = 1.0
    lease_s: float = 5.0
    start_delay: float = 1.5
    sigint_grace: float = 2.0
    allow_hosts: list[str] = field(default_factory=list)
    preflight: bool = True
    health_path: str = "/api/v1/health"
    log_interval: float = 10.0


@dataclass
class Prepared:
    script: LoadedScript
    options: Options
    thresholds: list[Threshold]
    env: dict[str, str]
    trend_stats: tuple[str, ...]
    allowed_hosts: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def prepare(cfg: RunConfig) -> Prepared:
    """Load and validate everything; raise RunError (104/107) before any traffic."""
    env = {**os.environ, **cfg.env_overrides}
    try:
        script = load_script(cfg.script_path, env)
    except ScriptError as exc:
        raise RunError(exitcodes.SCRIPT_ERROR, str(exc)) from exc
    except ScriptOptionsError as exc:
        raise RunError(exitcodes.INVALID_CONFIG, "; ".join(exc.errors)) from exc
    try:
        options = parse_options(script.raw_options)
    except OptionsError as exc:
        raise RunError(
            exitcodes.INVALID_CONFIG, "invalid options: " + "; ".join(exc.errors)
        ) from exc
    errors = check_flows(script, {sc.name: sc.exec for sc in options.scenarios})
    thresholds: list[Threshold] = []
    try:
        thresholds = parse_thresholds(dict(options.thresholds), script.all_metrics)
    except ThresholdError as exc:
        errors.extend(exc.errors)
    stats = options.summary_trend_stats
    if cfg.trend_stats is not None:
        try:
            stats = parse_trend_stats(cfg.trend_stats)
        except OptionsError as exc:
            errors.extend(f"--summary-trend-stats: {e}" for e in exc.errors)
    allowed = parse_allowed(cfg.allow_hosts, env.get("VEZA_RAY_ALLOW_HOSTS"))
    base_url = env.get("BASE_URL")
    if base_url:
        refusal = host_refusal(base_url, allowed)
        if refusal:
            errors.append(refusal)
    secrets = tuple(secret_values(env, cfg.env_overrides))
    if allowed:
        # Actors enforce the same list on every request they send.
        env["VEZA_RAY_ALLOW_HOSTS"] = ",".join(sorted(allowed))
    if errors:
        raise RunError(exitcodes.INVALID_CONFIG, redact("; ".join(errors), secrets))
    return Prepared(script, options, thresholds, env, stats, allowed, secrets)


def preflight(prep: Prepared, cfg: RunConfig, timeout: float = 5.0) -> None:
    """GET {BASE_URL}{health_path} once before any VU starts; RunError(108) if it fails."""
    base_url = prep.env.get("BASE_URL")
    if not cfg.preflight or not base_url:
        return
    url = base_url.rstrip("/") + cfg.health_path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RunError(
            exitcodes.PREFLIGHT_FAILED,
            f"pre-flight health check failed: GET {url}: {reason}; no load was sent",
        ) from exc
    if not 200 <= status < 300:
        raise RunError(
            exitcodes.PREFLIGHT_FAILED,
            f"pre-flight health check failed: GET {url} answered {status}; no load was sent",
        )


def evaluate(store: MetricStore, thresholds: list[Threshold], duration_s: float) -> list[Verdict]:
    """Judge every threshold on the merged data."""
    out = []
    for th in thresholds:
        sink = store.aggregate(th.selector.metric, th.selector.tags)
        observed: float | None = None
        if sink is not None and not sink.empty():
            agg = th.condition.aggregation
            observed = sink.values(duration_s, (agg,) if sink.kind.value == "trend" else ())[agg]
        out.append(judge(th, observed))
    return out


def _connect(cfg: RunConfig, actors_wanted: int | None) -> tuple[Any, bool]:
    """Connect to RAY address if given, else start a local cluster we stop at the end."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    common: dict[str, Any] = {
        "logging_level": logging.ERROR,
        "log_to_driver": True,
        "configure_logging": True,
    }
    try:
        if address:
            ray.init(address=address, **common)
            return ray, False
        cpus = max(os.cpu_count() or 1, actors_wanted or 0)
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
        return ray, True
    except Exception as exc:
        where = address or "a local Ray instance"
        raise RunError(exitcodes.CLUSTER_ERROR, f"could not connect to {where}: {exc}") from exc


def execute(prep: Prepared, cfg: RunConfig, out: Callable[[str], None] = print) -> int:
    """Run the test on Ray and report; returns the exit code."""

    def err(s: str) -> None:
        print(prep.redact(s), file=sys.stderr, flush=True)

    def safe_out(s: str) -> None:
        out(prep.redact(s))

    preflight(prep, cfg)
    ray, owned = _connect(cfg, cfg.actors)
    try:
        return _run(ray, prep, cfg, safe_out, err)
    finally:
        if owned:
            ray.shutdown()


def _run(
    ray: Any, prep: Prepared, cfg: RunConfig, out: Callable[[str], None], err: Callable[[str], None]
) -> int:
    from ray.exceptions import RayActorError
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from veza_ray.actor import remote_class

    cpus = int(ray.cluster_resources().get("CPU", 0))
    n = cfg.actors or max(1, cpus)
    if n > cpus:
        raise RunError(
            exitcodes.CLUSTER_ERROR,
            f"--actors {n} needs {n} CPUs but the Ray cluster offers {cpus}",
        )
    plan = make_plan(prep.options.scenarios, n)
    pg = placement_group([{"CPU": 1}] * n, strategy="SPREAD")
    ready, _ = ray.wait([pg.ready()], timeout=60)
    if not ready:
        remove_placement_group(pg)
        raise RunError(exitcodes.CLUSTER_ERROR, f"Ray could not place {n} actors within 60 s")
    cls = remote_class(num_cpus=1, max_restarts=0, max_concurrency=1000)
    source = prep.script.source
    handles = [
        cls.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=pg, placement_group_bundle_index=i
            )
        ).remote(i, prep.script.path, source, prep.env, [s.to_wire() for s in plan[i]], cfg.lease_s)
        for i in range(n)
    ]
    try:
        infos = ray.get([h.info.remote() for h in handles])
    except RayActorError as exc:
        raise RunError(
            exitcodes.SCRIPT_ERROR, f"an actor could not load the scenario: {exc}"
        ) from exc
    start_epoch = time.time() + cfg.start_delay
    ray.get([h.start.remote(start_epoch) for h in handles])
    state = _Merge(prep, plan, infos)
    planned = max((sc.start_time + sc.run_duration for sc in prep.options.scenarios), default=0.0)
    view = LiveView(not cfg.quiet, planned, plain_every=cfg.log_interval, write=err)
    where = f"{len({i['node_id'] for i in infos})} node(s), {n} actor(s)"
    names = [sc.name for sc in prep.options.scenarios]
    stop_reason = _watch_signals()
    live = dict(enumerate(handles))
    last_eval = 0.0
    aborted: list[Verdict] = []
    stopping = False
    t_prev = time.time()
    try:
        while live:
            time.sleep(max(0.0, cfg.pull_interval - (time.time() - t_prev)))
            now = time.time()
            dt, t_prev = now - t_prev, now
            refs = {i: h.pull.remote() for i, h in live.items()}
            for i, ref in refs.items():
                try:
                    delta: ActorDelta = orjson.loads(ray.get(ref, timeout=30))
                except (RayActorError, ray.exceptions.GetTimeoutError) as exc:
                    state.lose(
                        i,
                        now - start_epoch,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    )
                    err(f"lost actor {i} on {infos[i]['address']}: carrying on with the others")
                    live.pop(i)
                    continue
                state.merge(i, delta)
                if delta["done"]:
                    live.pop(i)
            elapsed = max(0.0, now - start_epoch)
            state.close_interval(elapsed)
            verdicts_now = (
                evaluate(state.total, prep.thresholds, elapsed) if prep.thresholds else []
            )
            rows = progress_rows(names, state.stats_by_scenario(), state.last_point(), dt)
            view.update(elapsed, rows, verdicts_now, where)
            if stop_reason and not stopping:
                err(f"{stop_reason[0]}: stopping all VUs gracefully")
                for h in live.values():
                    h.stop.remote(cfg.sigint_grace)
                stopping = True
            if not stopping and elapsed - last_eval >= 2.0 and prep.thresholds:
                last_eval = elapsed
                aborted = should_abort(verdicts_now, elapsed)
                if aborted:
                    crossed = ", ".join(
                        f"{v.threshold.selector.source}: '{v.threshold.condition.source}'"
                        for v in aborted
                    )
                    err(f"thresholds crossed with abortOnFail ({crossed}): stopping all actors")
                    for h in live.values():
                        h.stop.remote(0.0)
                    stopping = True
    finally:
        view.close()
        _restore_signals()
        remove_placement_group(pg)
    end = time.time()
    duration = max(1e-9, end - start_epoch)
    verdicts = evaluate(state.total, prep.thresholds, duration)
    extras = state.extras(prep, start_epoch, end)
    summary = build_summary(
        state.total, verdicts, prep.trend_stats, duration, sys.stdout.isatty(), extras
    )
    if prep.secrets:
        summary = redact_obj(summary, prep.secrets)
    text = render_text(summary, verdicts)
    _emit(prep, cfg, summary, text, out, err)
    failed = any(not v.ok for v in verdicts)
    if failed:
        return exitcodes.THRESHOLDS_FAILED
    if stop_reason:
        return exitcodes.EXTERNAL_ABORT
    if state.lost:
        err(
            f"run incomplete: {len(state.lost)} actor(s) lost, "
            f"{state.lost_vu_seconds():.0f} VU-seconds not delivered"
        )
        return exitcodes.LOST_LOAD
    return exitcodes.OK


def _emit(
    prep: Prepared,
    cfg: RunConfig,
    summary: dict[str, Any],
    text: str,
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> None:
    """Write the summary where asked; handle_summary's result replaces the default text."""
    if cfg.summary_export:
        with open(cfg.summary_export, "wb") as fh:
            fh.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    hs = prep.script.handle_summary
    if hs is None:
        out(text)
        return
    try:
        result = hs(summary)
    except Exception as exc:
        err(f"handle_summary failed ({type(exc).__name__}: {exc}); showing the default summary")
        out(text)
        return
    if not isinstance(result, Mapping):
        err("handle_summary must return a dict of {'stdout'|'stderr'|path: text}")
        out(text)
        return
    for key, value in result.items():
        data = value if isinstance(value, str) else orjson.dumps(value).decode()
        if key == "stdout":
            out(data)
        elif key == "stderr":
            err(data)
        else:
            with open(key, "w", encoding="utf-8") as fh:
                fh.write(data)


_stop_flag: list[str] = []


def _watch_signals() -> list[str]:
    """SIGINT/SIGTERM ask for a graceful stop; the list is filled when one arrives."""
    _stop_flag.clear()

    def handler(signum: int, frame: Any) -> None:
        _stop_flag.append(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return _stop_flag


def _restore_signals() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Merge:
    """The driver's merged view: cumulative store, per-interval series, actor state."""

    def __init__(self, prep: Prepared, plan: list[list[Segment]], infos: list[Any]) -> None:
        self.prep = prep
        self.plan = plan
        self.infos = infos
        self.total = MetricStore(prep.script.all_metrics)
        self.interval = MetricStore(prep.script.all_metrics)
        self.actor_stats: dict[int, dict[str, ScenarioStats]] = {}
        self.errors: dict[str, int] = {}
        self.lag: dict[int, list[float]] = {}
        self.cpu: dict[int, list[float]] = {}
        self.series: list[dict[str, Any]] = []
        self.lost: dict[int, dict[str, Any]] = {}

    def merge(self, actor: int, delta: ActorDelta) -> None:
        self.total.merge_wire(delta["series"])
        self.interval.merge_wire(delta["series"])
        self.actor_stats[actor] = dict(delta["scenarios"])
        for msg, count in delta["errors"].items():
            self.errors[msg] = self.errors.get(msg, 0) + count
        self.lag.setdefault(actor, []).append(lag_p99(delta["lag_ms"]))
        self.cpu.setdefault(actor, []).append(delta["cpu"])

    def lose(self, actor: int, at: float, why: str) -> None:
        self.lost[actor] = {"at_s": at, "why": why}
        self.actor_stats.pop(actor, None)

    def stats_by_scenario(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for stats in self.actor_stats.values():
            for name, st in stats.items():
                agg = out.setdefault(
                    name, {"active": 0, "allocated": 0, "iterations": 0, "dropped": 0}
                )
                for k in agg:
                    agg[k] += int(st.get(k, 0))  # type: ignore[misc,call-overload]
        return out

    def last_point(self) -> dict[str, dict[str, float]]:
        return self.series[-1]["scenarios"] if self.series else {}

    def reqs_by_scenario(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, tags), sink in self.total.series.items():
            if name == "http_reqs":
                sc = dict(tags).get("scenario", "")
                out[sc] = out.get(sc, 0.0) + sink.values(1.0)["count"]
        return out

    def close_interval(self, elapsed: float) -> None:
        """Record vus gauges and one per-scenario point of the time series, then reset."""
        by_sc = self.stats_by_scenario()
        active = sum(s["active"] for s in by_sc.values())
        allocated = sum(s["allocated"] for s in by_sc.values())
        self.total.sink("vus", ()).add(float(active), time.time())  # type: ignore[call-arg]
        self.total.sink("vus_max", ()).add(float(allocated), time.time())  # type: ignore[call-arg]
        point: dict[str, Any] = {"t": round(elapsed, 3), "scenarios": {}}
        for sc in self.prep.options.scenarios:
            sel = (("scenario", sc.name),)
            reqs = self.interval.aggregate("http_reqs", sel)
            dur = self.interval.aggregate("http_req_duration", sel)
            failed = self.interval.aggregate("http_req_failed", sel)
            entry = {
                "reqs": reqs.values(1.0)["count"] if reqs else 0.0,
                "p95": 0.0,
                "p99": 0.0,
                "error_rate": failed.values(1.0)["rate"] if failed else 0.0,
                "vus": by_sc.get(sc.name, {}).get("active", 0),
            }
            if isinstance(dur, TrendSink) and not dur.empty():
                entry["p95"] = dur.digest.quantile(0.95)
                entry["p99"] = dur.digest.quantile(0.99)
            point["scenarios"][sc.name] = entry
        self.series.append(point)
        self.interval = MetricStore(self.prep.script.all_metrics)

    def lost_vu_seconds(self) -> float:
        total = 0.0
        configs = {sc.name: sc for sc in self.prep.options.scenarios}
        for actor, info in self.lost.items():
            for seg in self.plan[actor]:
                sc = configs[seg.scenario]
                planned = planned_vu_seconds(sc, seg)
                span = sc.run_duration or 1.0
                left = max(0.0, min(1.0, (sc.start_time + span - info["at_s"]) / span))
                total += planned * left
        return total

    def extras(self, prep: Prepared, start: float, end: float) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        actors = []
        for i, info in enumerate(self.infos):
            segs = {s.scenario: s.max_vus for s in self.plan[i]}
            lag = self.lag.get(i, [])
            cpu = self.cpu.get(i, [])
            entry = {
                "id": i,
                "node_id": info["node_id"],
                "address": info["address"],
                "pid": info["pid"],
                "vus": segs,
                "loop_lag_p99_ms": max(lag) if lag else 0.0,
                "cpu_max": max(cpu) if cpu else 0.0,
                "lost": i in self.lost,
            }
            actors.append(entry)
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
            "lost_vu_seconds": self.lost_vu_seconds(),
            "intervals": self.series,
        }
