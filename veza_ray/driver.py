"""The driver: validate, place actors, start them together, pull, merge, judge, report.

Validation (``prepare``) needs no Ray and sends nothing, so every bad input is refused
before a single request. ``execute`` is the I/O loop: one pull per actor about once a
second, merged into a cumulative store and a per-interval series; thresholds judged on
the merged data only, abortOnFail about every 2 s.
"""

from __future__ import annotations

import contextlib
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
from veza_ray.fleet import (
    Fleet,
    PlacementError,
    PlacementRequest,
    cpu_nodes,
    resume_segments,
)
from veza_ray.guards import host_refusal, parse_allowed, redact, redact_obj, secret_values
from veza_ray.http import client_choice_problem
from veza_ray.live import LiveView, progress_rows
from veza_ray.merge import MergedRun
from veza_ray.metrics import MetricStore
from veza_ray.options import Options, OptionsError, parse_options, parse_trend_stats
from veza_ray.plan import Segment, make_plan
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
    spread: str = "spread"
    actors_per_node: int | None = None
    replace_lost: bool = False
    pull_wait: float = 0.8
    silent_s: float = 8.0
    abort_eval_s: float = 2.0
    ndjson_path: str | None = None
    html: str | None = None
    junit: str | None = None
    markdown: str | None = None


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
    client = client_choice_problem(env.get("VEZA_RAY_HTTP_CLIENT"))
    if client:
        errors.append(client)
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
        msg = f"could not connect to {where}: {exc}"
        if address:
            msg += connect_hint(os.environ.get("RAY_AUTH_MODE", ""))
        raise RunError(exitcodes.CLUSTER_ERROR, msg) from exc


def connect_hint(auth_mode: str) -> str:
    """What to check when a cluster address does not answer. Ray reports a refused token
    only in its own log lines ("InvalidAuthToken") and then fails with a generic error,
    after ~20 s of retries, so the message has to point at it."""
    if auth_mode == "token":
        return (
            "; token authentication is on here (RAY_AUTH_MODE=token): if Ray's log above "
            "says InvalidAuthToken, RAY_AUTH_TOKEN is not the cluster's token"
        )
    return (
        "; if Ray's log above says the authentication token is missing, the cluster uses "
        "token authentication: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to its token"
    )


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
    ray: Any,
    prep: Prepared,
    cfg: RunConfig,
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> int:
    from veza_ray.actor import remote_class

    cls = remote_class(max_restarts=0, max_concurrency=1000)

    def make_actor(num_cpus: float, strategy: Any) -> Any:
        return cls.options(num_cpus=num_cpus, scheduling_strategy=strategy).remote

    def actor_args(i: int, segs: list[Segment]) -> tuple[Any, ...]:
        wire = [s.to_wire() for s in segs]
        return (i, prep.script.path, prep.script.source, prep.env, wire, cfg.lease_s)

    fleet = Fleet(ray, make_actor, cfg.silent_s)
    request = PlacementRequest(cfg.actors, cfg.spread, cfg.actors_per_node)
    try:
        plan = fleet.place(request, lambda n: make_plan(prep.options.scenarios, n), actor_args)
    except PlacementError as exc:
        fleet.close()
        raise RunError(exc.code, str(exc)) from exc
    ids = sorted(fleet.handles)
    try:
        infos = fleet.infos(ids)
    except Exception as exc:
        fleet.close()
        raise RunError(
            exitcodes.SCRIPT_ERROR, f"an actor could not load the scenario: {exc}"
        ) from exc
    state = MergedRun(prep.options, prep.script.all_metrics, plan)
    for i, info in zip(ids, infos, strict=True):
        state.add_actor(i, info, plan[i])
    start_epoch = time.time() + cfg.start_delay
    fleet.start(ids, start_epoch)
    nodes = {info["node_id"] for info in infos}
    err(
        f"veza-ray: {len(ids)} actor(s) on {len(nodes)} node(s): "
        + ", ".join(f"{addr} x{n}" for addr, n in _count_by_address(infos).items())
    )
    planned = max((sc.start_time + sc.run_duration for sc in prep.options.scenarios), default=0.0)
    view = LiveView(not cfg.quiet, planned, plain_every=cfg.log_interval, write=err)
    names = [sc.name for sc in prep.options.scenarios]
    stop_reason = _watch_signals()
    last_eval = 0.0
    stopping = False
    next_id = len(ids)
    t_prev = time.time()
    broken = ""
    stream = open(cfg.ndjson_path, "ab") if cfg.ndjson_path else None  # noqa: SIM115
    try:
        while fleet.live:
            time.sleep(max(0.0, cfg.pull_interval - (time.time() - t_prev)))
            now = time.time()
            dt, t_prev = now - t_prev, now
            elapsed = max(0.0, now - start_epoch)
            deltas, lost = fleet.pull(cfg.pull_wait)
            for i, delta in deltas.items():
                state.merge(i, delta)
            for i, why in lost.items():
                state.lose(i, elapsed, why)
                where = state.infos[i]["address"]
                err(
                    f"lost actor {i} on {where} ({why}): keeping what it reported, "
                    "carrying on with the others"
                )
                if cfg.replace_lost and not stopping:
                    next_id = _replace(
                        ray,
                        fleet,
                        state,
                        i,
                        next_id,
                        make_actor,
                        actor_args,
                        start_epoch,
                        elapsed,
                        err,
                    )
            state.close_interval(elapsed, dt)
            if stream is not None:
                point = {"time": now, **state.series[-1]}
                stream.write(orjson.dumps(redact_obj(point, prep.secrets)) + b"\n")
                stream.flush()
            verdicts_now = evaluate(state.total, prep.thresholds, elapsed)
            rows = progress_rows(names, state.stats_by_scenario(), state.last_point(), dt)
            where_now = (
                f"{len({state.infos[i]['node_id'] for i in fleet.live})} node(s), "
                f"{len(fleet.live)} actor(s)"
            )
            view.update(elapsed, rows, verdicts_now, where_now)
            if stop_reason and not stopping:
                err(f"{stop_reason[0]}: stopping all VUs gracefully")
                fleet.stop(cfg.sigint_grace)
                stopping = True
            if not stopping and elapsed - last_eval >= cfg.abort_eval_s and prep.thresholds:
                last_eval = elapsed
                aborted = should_abort(verdicts_now, elapsed)
                if aborted:
                    crossed = ", ".join(
                        f"{v.threshold.selector.source}: '{v.threshold.condition.source}'"
                        for v in aborted
                    )
                    err(f"thresholds crossed with abortOnFail ({crossed}): stopping all actors")
                    fleet.stop(0.0)
                    stopping = True
    except Exception as exc:
        broken = f"{type(exc).__name__}: {exc}"
        err(f"the driver failed mid-run ({broken}); stopping actors, reporting what was measured")
        with contextlib.suppress(Exception):
            fleet.stop(0.0)
    finally:
        view.close()
        _restore_signals()
        fleet.close()
        if stream is not None:
            stream.close()
    end = time.time()
    duration = max(1e-9, end - start_epoch)
    verdicts = evaluate(state.total, prep.thresholds, duration)
    extras = state.extras(start_epoch, end)
    extras["options"] = _jsonable(dict(prep.options.raw))
    extras["verdicts"] = [
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
    extras["distributions"] = state.distributions()
    extras["scenarios"] = [sc.name for sc in prep.options.scenarios]
    summary = build_summary(
        state.total, verdicts, prep.trend_stats, duration, sys.stdout.isatty(), extras
    )
    if prep.secrets:
        summary = redact_obj(summary, prep.secrets)
    text = render_text(summary, verdicts)
    _emit(prep, cfg, summary, text, out, err)
    health = extras["generator_health"]
    if health["saturated"]:
        err(
            "warning: load generators were saturated ("
            + health["rule"]
            + "): actors "
            + ", ".join(f"{a['id']} on {a['address']}" for a in health["actors"])
            + "; part of the measured latency is the generator's own"
        )
    if any(not v.ok for v in verdicts):
        return exitcodes.THRESHOLDS_FAILED
    if stop_reason:
        return exitcodes.EXTERNAL_ABORT
    if broken:
        return exitcodes.LOST_LOAD
    if state.lost:
        err(
            f"run incomplete: {len(state.lost)} actor(s) lost "
            f"({', '.join(str(i) for i in state.lost)}), "
            f"{state.lost_vu_seconds():.0f} VU-seconds planned but not delivered"
        )
        return exitcodes.LOST_LOAD
    return exitcodes.OK


def _jsonable(value: Any) -> Any:
    """The options as plain JSON (anything exotic becomes its repr)."""
    return orjson.loads(orjson.dumps(value, default=repr))


def _count_by_address(infos: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for info in infos:
        out[info["address"]] = out.get(info["address"], 0) + 1
    return out


def _replace(
    ray: Any,
    fleet: Fleet,
    state: MergedRun,
    lost: int,
    new_id: int,
    make_actor: Callable[..., Any],
    actor_args: Callable[[int, list[Segment]], tuple[Any, ...]],
    start_epoch: float,
    elapsed: float,
    err: Callable[[str], None],
) -> int:
    """Start a replacement for the rest of a lost actor's segments on a live node."""
    executors = {sc.name: sc.executor for sc in state.options.scenarios}
    segs = resume_segments(state.plan[lost], state.done_iterations.get(lost, {}), executors)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # Ray's resource view lags a node's death, so choose from our own books: an alive
    # node other than the lost actor's, the one with the most CPUs not taken by our actors.
    lost_node = state.infos[lost]["node_id"]
    ours: dict[str, int] = {}
    for i in fleet.live:
        nid = state.infos[i]["node_id"]
        ours[nid] = ours.get(nid, 0) + 1
    candidates = [
        (int(n["Resources"].get("CPU", 0)) - ours.get(n["NodeID"], 0), n["NodeID"])
        for n in cpu_nodes(ray)
        if n["NodeID"] != lost_node
    ]
    if not candidates:
        err(f"no live node to replace actor {lost} on")
        return new_id
    spare, node_id = max(candidates)
    cpus = 1.0 if spare >= 1 else 0.0
    strategy = NodeAffinitySchedulingStrategy(node_id, soft=False)
    try:
        handle = make_actor(cpus, strategy)(*actor_args(new_id, segs))
        info = ray.get(handle.info.remote(), timeout=60)
        info["replaces"] = lost
        ray.get(handle.start.remote(start_epoch), timeout=30)
    except Exception as exc:
        err(f"could not start a replacement for actor {lost}: {exc}")
        return new_id
    fleet.add(new_id, handle)
    fleet.last_heard[new_id] = time.time()
    state.add_actor(new_id, info, segs)
    state.replaced(lost, new_id, max(elapsed, time.time() - start_epoch))
    shared = "" if cpus else " (sharing a CPU: the cluster had none free)"
    err(f"actor {new_id} on {info['address']} takes over the rest of actor {lost}'s load{shared}")
    return new_id + 1


def _reports(
    cfg: RunConfig, summary: dict[str, Any], out: Callable[[str], None], err: Callable[[str], None]
) -> None:
    """HTML, JUnit and Markdown reports, plus the CI step summary when $GITHUB_STEP_SUMMARY
    is set; a report that cannot be written is said, never fatal to the results."""
    from veza_ray.report_cli import write_reports
    from veza_ray.reports import append_step_summary, render_markdown

    try:
        write_reports(summary, cfg.html, cfg.junit, cfg.markdown, out=out)
        if os.environ.get("GITHUB_STEP_SUMMARY") and cfg.markdown is None:
            append_step_summary(render_markdown(summary))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err(f"could not write a report: {type(exc).__name__}: {exc}")


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
    _reports(cfg, summary, out, err)
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


def _watch_signals() -> list[str]:
    """SIGINT/SIGTERM ask for a graceful stop; the returned list is filled when one arrives."""
    stop_flag: list[str] = []

    def handler(signum: int, frame: Any) -> None:
        stop_flag.append(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop_flag


def _restore_signals() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
