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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from veza_ray.cluster.fleet import (
    Fleet,
    PlacementError,
    PlacementRequest,
    cpu_nodes,
    resume_segments,
)
from veza_ray.cluster.interrupts import (
    Interrupts,
    descendants,
    hangup_blocked,
    kill_children,
    reap,
)
from veza_ray.cluster.lifecycle import run_setup, run_teardown, script_abort
from veza_ray.cluster.stopped import stopped_before_start
from veza_ray.core import exitcodes
from veza_ray.core.actor_settings import actor_settings
from veza_ray.core.guards import SECRETS, host_refusal, parse_allowed, secret_names
from veza_ray.core.history import identity
from veza_ray.core.inspect import auto_actors
from veza_ray.core.merge import MergedRun
from veza_ray.core.options import Options, OptionsError, parse_options, parse_trend_stats
from veza_ray.core.outcome import ActorCutShort, Outcome, RunFacts, decide, outcome_line
from veza_ray.core.output_kinds import BY_KIND, END, INTERVAL, OUTPUTS
from veza_ray.core.overlap import collisions
from veza_ray.core.plan import Segment, make_plan
from veza_ray.core.runconfig import RunConfig
from veza_ray.core.sizing import estimate_memory, memory_refusal, output_refusal
from veza_ray.core.stop import StopRequested
from veza_ray.core.summary import build_summary, render_text
from veza_ray.core.thresholds import (
    Threshold,
    ThresholdError,
    Verdict,
    evaluate,
    parse_thresholds,
)
from veza_ray.engine.http import client_choice_problem
from veza_ray.engine.lifecycle import PartResult
from veza_ray.engine.scenario import (
    LoadedScript,
    ScriptError,
    ScriptOptionsError,
    check_flows,
    load_script,
)
from veza_ray.outputs.base import (
    Interval,
    Output,
    OutputContext,
    OutputEnd,
    RunStart,
    finish_all,
    load_impl,
)
from veza_ray.outputs.files import write_end_outputs, write_file
from veza_ray.outputs.stdstreams import lost_streams
from veza_ray.outputs.streams import AbortCheck, LiveOutput

__all__ = ["Prepared", "RunConfig", "RunError", "execute", "prepare"]


class RunError(Exception):
    """A refusal with the exit code it maps to; the message names the bad part."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Prepared:
    script: LoadedScript
    options: Options
    thresholds: list[Threshold]
    env: dict[str, str]
    trend_stats: tuple[str, ...]
    allowed_hosts: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    setup_data: str | None = None  # setup()'s return value (JSON), for every actor's VUs

    def redact(self, text: str) -> str:
        return SECRETS.redact(text)


def prepare(cfg: RunConfig) -> Prepared:
    """Load and validate everything; raise RunError (104/107) before any traffic."""
    env = {**os.environ, **cfg.env_overrides}
    # Secrets are known before the scenario loads: its import errors may quote them.
    SECRETS.add_env(env, cfg.secret_names)
    try:
        script = load_script(cfg.script_path, env)
    except ScriptError as exc:
        raise RunError(exitcodes.SCRIPT_ERROR, str(exc)) from exc
    except ScriptOptionsError as exc:
        raise RunError(exitcodes.INVALID_CONFIG, "; ".join(exc.errors)) from exc
    try:
        options = parse_options(script.raw_options).with_run_tags(cfg.run_tags)
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
    prometheus_url = cfg.target("prometheus")
    if prometheus_url:
        from veza_ray.outputs.prometheus import PrometheusConfigError, parse_config

        try:
            parse_config(prometheus_url, env, allowed)
        except PrometheusConfigError as exc:
            errors.extend(exc.errors)
    secrets = SECRETS.values
    for o in OUTPUTS:
        refusal = output_refusal(o.flag, cfg.target(o.kind)) if o.is_file else None
        if refusal:
            errors.append(refusal)
    # No output may overwrite an input of the run, or another output (docs/security.md).
    inputs = [("the scenario file", script.path), *script.inputs]
    errors.extend(collisions(cfg.file_outputs(), inputs))
    if errors:
        raise RunError(exitcodes.INVALID_CONFIG, SECRETS.redact("; ".join(errors)))
    return Prepared(script, options, thresholds, env, stats, allowed, secrets)


def preflight(prep: Prepared, cfg: RunConfig, timeout: float = 5.0) -> None:
    """GET {BASE_URL}{health_path} once before any VU starts, through the host guard,
    within ``timeout`` seconds in all; RunError(108) with one line if it fails."""
    from veza_ray.cluster.preflight import PreflightFailed, check, health_url

    base_url = prep.env.get("BASE_URL")
    if not cfg.preflight or not base_url:
        return
    try:
        check(health_url(base_url, cfg.health_path), prep.allowed_hosts, timeout)
    except PreflightFailed as exc:
        raise RunError(
            exitcodes.PREFLIGHT_FAILED,
            f"pre-flight health check failed: {exc}; no load was sent",
        ) from None


def _connect(
    cfg: RunConfig, actors_wanted: int | None, err: Callable[[str], None], signals: Interrupts
) -> tuple[Any, bool]:
    """Connect to the Ray address if given; else use the local cluster already running on
    this machine (started with ``ray start``), as ``ray.init()`` does; else start a local
    one that we stop at the end. Returns (ray, owned)."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    common: dict[str, Any] = {
        "logging_level": logging.ERROR,
        "log_to_driver": True,
        "configure_logging": True,
    }
    try:
        try:
            with hangup_blocked():  # Ray's processes leave a closed terminal's SIGHUP to us
                return _init(ray, address, actors_wanted, common, err)
        except SystemExit as exc:
            # ray.init installs its own SIGTERM handler (sys.exit(15)) as it begins.
            if exc.code == signal.SIGTERM:
                signals.received.append("SIGTERM")
                raise StopRequested("SIGTERM") from exc
            raise
        finally:
            signals.install()  # ours again, over Ray's
    except (StopRequested, KeyboardInterrupt):
        # Interrupted inside ray.init: stop what it started, even half-way.
        with contextlib.suppress(Exception):
            ray.shutdown()
        if not address:
            kill_children()
        raise
    except Exception as exc:
        where = address or "a local Ray instance"
        msg = f"could not connect to {where}: {exc}"
        if address:
            msg += connect_hint(os.environ.get("RAY_AUTH_MODE", ""))
        raise RunError(exitcodes.CLUSTER_ERROR, msg) from exc


def _init(
    ray: Any,
    address: str | None,
    actors_wanted: int | None,
    common: dict[str, Any],
    err: Callable[[str], None],
) -> tuple[Any, bool]:
    """``ray.init`` for the address, else an existing local cluster, else a new one."""
    if address:
        ray.init(address=address, **common)
        return ray, False
    cpus = max(os.cpu_count() or 1, actors_wanted or 0)
    try:
        # A readiness line too: from here until the actors are placed, a stop signal
        # stops this cluster again (tests wait on it before they signal this phase).
        err(f"veza-ray: starting a local Ray cluster ({cpus} CPUs)")
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
        return ray, True
    except ValueError as exc:
        # Ray's words for "a local cluster is already running here" (ray start):
        # use it rather than start a second Ray competing for the same cores.
        if "existing cluster" not in str(exc):
            raise
    ray.init(address="auto", **common)
    err("veza-ray: using the Ray cluster already running on this machine (ray start)")
    return ray, False


def connect_hint(auth_mode: str) -> str:
    """What to check when a cluster address does not answer. Ray reports a refused token
    only in its own log lines ("InvalidAuthToken") and then fails with a generic error,
    after ~20 s of retries, so the message has to point at it. It names settings in words:
    "NAME=value" would reach the user as "NAME=***" through the redactor."""
    if auth_mode == "token":
        return (
            "; token authentication is on here (RAY_AUTH_MODE is token): if Ray's log above "
            "says InvalidAuthToken, RAY_AUTH_TOKEN is not the cluster's token"
        )
    return (
        "; if Ray's log above says the authentication token is missing, the cluster uses "
        "token authentication: set RAY_AUTH_MODE to token and RAY_AUTH_TOKEN to its token"
    )


def execute(
    prep: Prepared,
    cfg: RunConfig,
    out: Callable[[str], None] = print,
    interrupts: Interrupts | None = None,
) -> int:
    """Run the test on Ray and report; returns the exit code decided by ``outcome.decide``.

    A stop signal (SIGINT, SIGTERM, SIGHUP) before the VUs start ends it with 105: nothing
    ran, the cluster we started is stopped and the summary says in which phase; once they
    run, it stops them gracefully and the summary is still written. A signal after the
    outcome was decided does not change it.
    """

    def err(s: str) -> None:
        print(prep.redact(s), file=sys.stderr, flush=True)

    def safe_out(s: str) -> None:
        out(prep.redact(s))

    own_interrupts = interrupts is None
    signals = interrupts if interrupts is not None else Interrupts().install()
    ray: Any = None
    owned = False
    phase = "while the script loaded"  # named in the outcome when a signal stops start-up
    for warning in prep.options.warnings:
        err(f"warning: {warning}")
    try:
        try:
            if signals.received:  # one that came while the script loaded (cli's deferring)
                raise StopRequested(signals.first)
            phase = "during the pre-flight health check"
            preflight(prep, cfg)
            phase = "while setup() ran"
            setup = run_setup(prep, err)  # once per test, before Ray: a failure starts nothing
            if setup.code:
                raise RunError(setup.code, f"{setup.error}; no VU was started")
            phase = "while Ray started"
            ray, owned = _connect(cfg, cfg.actors, err, signals)
            phase = "while the actors were placed"
            code = _run(ray, prep, cfg, safe_out, err, signals, setup)
        finally:
            signals.flagging()  # the cluster's stop below is never cut short by a signal
            if owned and ray is not None:
                _stop_cluster(ray)
        if signals.late:
            err(
                f"veza-ray: {signals.late[0]} after the verdict was decided: the summary was "
                f"finished and the exit code is the run's ({code})"
            )
        return code
    except (StopRequested, KeyboardInterrupt) as exc:
        name = exc.signal_name if isinstance(exc, StopRequested) else "SIGINT"
        return stopped_before_start(prep, cfg, name, phase, lambda o: _say_outcome(o, err), err)
    finally:
        if own_interrupts:
            signals.restore()


def _stop_cluster(ray: Any) -> None:
    """Stop the local cluster we started, and wait until every process of it is gone (Ray
    leaves agents and workers behind when a signal cut its start or its stop short)."""
    procs = descendants()
    with contextlib.suppress(Exception):
        ray.shutdown()
    reap(procs)


def _run(
    ray: Any,
    prep: Prepared,
    cfg: RunConfig,
    out: Callable[[str], None],
    err: Callable[[str], None],
    signals: Interrupts,
    setup: PartResult,
) -> int:
    from veza_ray.cluster.actor import remote_class

    cls = remote_class(max_restarts=0, max_concurrency=1000)

    def make_actor(num_cpus: float, strategy: Any) -> Any:
        return cls.options(num_cpus=num_cpus, scheduling_strategy=strategy).remote

    def actor_args(i: int, segs: list[Segment]) -> tuple[Any, ...]:
        return _actor_args(prep, cfg, i, segs)

    fleet = Fleet(ray, make_actor, cfg.silent_s)
    request = PlacementRequest(cfg.actors, cfg.spread, cfg.actors_per_node)
    if cfg.actors_auto:
        node_cpus = [int(n["Resources"].get("CPU", 0)) for n in cpu_nodes(ray)]
        per_node, why = auto_actors(prep.options, node_cpus)
        err(f"--actors auto: {per_node} actor(s) per node on {len(node_cpus)} node(s): {why}")
        request = PlacementRequest(None, cfg.spread, per_node)
    _check_memory(ray, prep, request)
    try:  # until the VUs start, any failure or signal releases what was placed
        try:
            plan = fleet.place(request, lambda n: make_plan(prep.options.scenarios, n), actor_args)
        except PlacementError as exc:
            raise RunError(exc.code, str(exc)) from exc
        ids = sorted(fleet.handles)
        try:
            infos = fleet.infos(ids)
        except Exception as exc:
            raise RunError(
                exitcodes.SCRIPT_ERROR, f"an actor could not load the scenario: {exc}"
            ) from exc
        state = MergedRun(prep.options, prep.script.all_metrics, plan)
        state.total.merge_wire(setup.series)
        for i, info in zip(ids, infos, strict=True):
            state.add_actor(i, info, plan[i])
        _attach_tree(ray, prep, cfg, fleet, ids, infos)
        start_epoch = time.time() + cfg.start_delay
        fleet.start(ids, start_epoch)
    except BaseException:
        fleet.close()
        raise
    signals.flagging()
    planned = max((sc.start_time + sc.run_duration for sc in prep.options.scenarios), default=0.0)
    ctx = _RunContext(
        ray, prep, cfg, out, err, signals, fleet, state, start_epoch, planned, next_id=len(ids)
    )
    return _drive(ctx, infos)


def _attach_tree(
    ray: Any, prep: Prepared, cfg: RunConfig, fleet: Fleet, ids: list[int], infos: list[Any]
) -> None:
    """The merge tree (aggregator.py): one num_cpus=0 aggregator pinned to each chosen node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from veza_ray.cluster.aggregator import remote_aggregator

    cls = remote_aggregator()
    defs = dict(prep.script.all_metrics)

    def make(node_id: str) -> Any:
        strategy = NodeAffinitySchedulingStrategy(node_id, soft=False)
        return cls.options(num_cpus=0, scheduling_strategy=strategy).remote(
            node_id, defs, cfg.silent_s
        )

    node_of = {i: str(info["node_id"]) for i, info in zip(ids, infos, strict=True)}
    fleet.attach_tree(node_of, cfg.merge_tree, make)


def _check_memory(ray: Any, prep: Prepared, request: PlacementRequest) -> None:
    """Refuse (104) a plan the cluster's memory cannot hold, before any actor starts."""
    try:
        available = float(ray.cluster_resources().get("memory", 0.0))
        actors = request.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    except Exception:
        return
    if request.actors_per_node:
        actors = request.actors_per_node * max(1, len(cpu_nodes(ray)))
    refusal = memory_refusal(estimate_memory(prep.options.scenarios, actors), available)
    if refusal:
        raise RunError(exitcodes.INVALID_CONFIG, refusal + "; nothing was sent")


def _outputs(
    prep: Prepared,
    cfg: RunConfig,
    err: Callable[[str], None],
    abort: AbortCheck,
    stop: Callable[[str], None] | None = None,
) -> list[Output]:
    """Every output the run feeds each interval: the live view, the abort check, and
    those of the output table (core/output_kinds.py) the run asked for."""
    outputs: list[Output] = [LiveOutput(not cfg.quiet, cfg.log_interval, err), abort]
    ctx = OutputContext(prep.env, prep.allowed_hosts, err, stop)
    for o in OUTPUTS:
        target = cfg.target(o.kind)
        if o.phase == INTERVAL and target:
            outputs.append(load_impl(o.impl).for_run(target, ctx))
    return outputs


@dataclass
class _RunContext:
    """One run from the VUs' start to its exit code: what every step of the driver's loop
    and of its end reads, and what the loop learns on the way (whether it is stopping the
    actors, its pauses, a failure of its own, the next actor id a replacement takes)."""

    ray: Any
    prep: Prepared
    cfg: RunConfig
    out: Callable[[str], None]
    err: Callable[[str], None]
    signals: Interrupts
    fleet: Fleet
    state: MergedRun
    start_epoch: float
    planned: float
    next_id: int
    outputs: list[Output] = field(default_factory=list)
    abort: AbortCheck = field(init=False)
    stopping: bool = False
    broken: str = ""
    pauses: list[tuple[float, float]] = field(default_factory=list)

    def stop_all(self, grace: float) -> None:
        """Stop every actor (after ``grace`` seconds for its VUs); the loop stops once."""
        self.fleet.stop(grace)
        self.stopping = True

    def abort_run(self, crossing: list[Verdict]) -> None:
        """abortOnFail (the AbortCheck output): say which thresholds, stop at once."""
        crossed = ", ".join(v.threshold.labelled() for v in crossing)
        self.err(f"thresholds crossed with abortOnFail ({crossed}): stopping all actors")
        self.stop_all(0.0)


def _drive(ctx: _RunContext, infos: list[dict[str, Any]]) -> int:
    """The pipeline while VUs run: pull -> MergedRun.tick -> evaluate -> every output
    (``_loop``); then the end-of-run facts, the summary and the one outcome decision
    (``_conclude``)."""
    nodes = {info["node_id"] for info in infos}
    ctx.err(
        f"veza-ray: {len(infos)} actor(s) on {len(nodes)} node(s): "
        + ", ".join(f"{addr} x{n}" for addr, n in _count_by_address(infos).items())
    )
    _start_outputs(ctx)
    return _conclude(ctx, _loop(ctx))


def _start_outputs(ctx: _RunContext) -> None:
    """The abort check and every output of the run, told that the run starts."""
    prep = ctx.prep
    ctx.abort = AbortCheck(ctx.cfg.abort_eval_s, ctx.abort_run, blocked=lambda: ctx.stopping)
    # A stop from an output (the web dashboard) is read by the loop as a signal is.
    ctx.outputs = _outputs(prep, ctx.cfg, ctx.err, ctx.abort, ctx.signals.received.append)
    run_start = RunStart(
        prep.script.path,
        ctx.start_epoch,
        ctx.planned,
        tuple(sc.name for sc in prep.options.scenarios),
        tuple(prep.options.tags),
    )
    for output in ctx.outputs:
        output.start(run_start)


def _loop(ctx: _RunContext) -> list[OutputEnd]:
    """One round about every pull interval while an actor runs. A failure of the driver's
    own stops the actors and keeps what was measured. Returns each output's end."""
    cfg, err, fleet = ctx.cfg, ctx.err, ctx.fleet
    t_prev = time.time()
    try:
        while fleet.live:
            time.sleep(max(0.0, cfg.pull_interval - (time.time() - t_prev)))
            now = time.time()
            dt, t_prev = now - t_prev, now
            elapsed = max(0.0, now - ctx.start_epoch)
            if dt > cfg.pull_interval + cfg.pause_s:
                # The driver itself did not run (SIGSTOP, a suspended laptop, swap): the
                # actors kept their VUs only while their lease held.
                ctx.pauses.append((round(elapsed - dt, 1), round(dt, 1)))
                err(f"the driver was paused or unreachable for {dt:.1f} s")
            _round(ctx, now, elapsed, dt)
    except Exception as exc:
        ctx.broken = f"{type(exc).__name__}: {exc}"
        err(
            f"the driver failed mid-run ({ctx.broken}); stopping actors, "
            "reporting what was measured"
        )
        with contextlib.suppress(Exception):
            fleet.stop(0.0)
    finally:
        fleet.close()
        ends = [_end(output, err) for output in ctx.outputs]
    return ends


def _round(ctx: _RunContext, now: float, elapsed: float, dt: float) -> None:
    """One round: pull, merge (MergedRun.tick), say the notices and the actors lost (and
    replace them if asked), feed the interval to every output, act on a stop signal."""
    prep, cfg, err, fleet, state = ctx.prep, ctx.cfg, ctx.err, ctx.fleet, ctx.state
    deltas, lost = fleet.pull(cfg.pull_wait)
    for delta in deltas.values():  # before any output writes this round's text
        SECRETS.add_all(delta.get("secrets", ()))
    state.tick(deltas, lost, elapsed, dt)
    if script_abort(state) and not ctx.stopping:  # k6/execution test.abort()
        err(f"veza-ray: {script_abort(state)}: stopping all actors")
        ctx.stop_all(0.0)
    for notice in fleet.notices:
        err(notice)
    fleet.notices.clear()
    for notice in state.notices:  # e.g. too many series (core/cardinality.py)
        err(f"warning: {notice}")
    state.notices.clear()
    for i, why in lost.items():
        where = state.infos[i]["address"]
        err(
            f"lost actor {i} on {where} ({why}): keeping what it reported, "
            "carrying on with the others"
        )
        if cfg.replace_lost and not ctx.stopping:
            ctx.next_id = _replace(
                ctx.ray,
                fleet,
                state,
                i,
                ctx.next_id,
                fleet.make_actor,
                lambda n, segs: _actor_args(prep, cfg, n, segs),
                ctx.start_epoch,
                elapsed,
                err,
            )
    iv = Interval(
        now,
        elapsed,
        dt,
        state.series[-1],
        state.stats_by_scenario(),
        evaluate(state.total, prep.thresholds, elapsed),
        f"{len({state.infos[i]['node_id'] for i in fleet.live})} node(s), "
        f"{len(fleet.live)} actor(s)",
        state,
        fleet.tree,
    )
    for output in ctx.outputs:
        output.interval(iv)
    if ctx.signals.received and not ctx.stopping:
        err(f"{ctx.signals.first}: stopping all VUs gracefully")
        ctx.stop_all(cfg.sigint_grace)


def _conclude(ctx: _RunContext, ends: list[OutputEnd]) -> int:
    """After the loop: teardown, the end-of-run facts, the summary, the one decision (or
    the history gate's), then the end outputs; returns the exit code."""
    prep, cfg, err = ctx.prep, ctx.cfg, ctx.err
    teardown = run_teardown(prep, ctx.state, err)  # after an abort or a signal too, as in k6
    end = time.time()
    duration = max(1e-9, end - ctx.start_epoch)
    verdicts = evaluate(ctx.state.total, prep.thresholds, duration)
    extras = _extras(ctx, verdicts, ends, end)
    facts = _end_facts(ctx, verdicts, extras, duration, ends, teardown)
    summary = _assemble_summary(ctx, verdicts, duration, extras)
    if cfg.history.active:  # compare with the baseline, decide, record (history/runhook.py)
        from veza_ray.history.runhook import finish

        outcome, facts = finish(cfg.history, summary, facts, err, SECRETS.redact_obj)
    else:
        outcome = decide(facts)
        summary["veza_ray"]["outcome"] = outcome.to_wire()
    ctx.signals.decided()  # a signal from now on finds the verdict decided: it stands
    summary = SECRETS.redact_obj(summary)  # the one redaction every end output shows
    outcome = _emit(prep, cfg, summary, facts, verdicts, ctx.out, err)
    finish_all(ctx.outputs, summary)
    _say_outcome(outcome, err)  # stderr too: handle_summary may replace the default text
    return outcome.code


def _extras(
    ctx: _RunContext, verdicts: list[Verdict], ends: list[OutputEnd], end: float
) -> dict[str, Any]:
    """What the summary carries beside k6's layout (``veza_ray.*``): the merged run's
    books, each node's aggregator, the options, the verdicts, what outputs pushed."""
    extras = ctx.state.extras(ctx.start_epoch, end)
    for node in extras["nodes"]:
        node["aggregator"] = ctx.fleet.tree.get(
            node["node_id"], {"status": "none: pulled directly"}
        )
    extras["options"] = _jsonable(dict(ctx.prep.options.raw))
    extras["verdicts"] = [v.to_wire() for v in verdicts]
    extras["distributions"] = ctx.state.distributions()
    extras["overall_distribution"] = ctx.state.overall_distribution()
    extras["scenarios"] = [sc.name for sc in ctx.prep.options.scenarios]
    pushed = {e.name: e.summary for e in ends if e.summary is not None}
    if pushed:
        extras["outputs"] = pushed
    return extras


def _end_facts(
    ctx: _RunContext,
    verdicts: list[Verdict],
    extras: dict[str, Any],
    duration: float,
    ends: list[OutputEnd],
    teardown: PartResult,
) -> RunFacts:
    """The facts the outcome is decided on: what the merged data says (``_facts``) and
    what only the driver saw (an abort, a signal, its pauses, outputs, teardown)."""
    facts = _facts(ctx.state, verdicts, extras, ctx.planned, ctx.start_epoch, duration)
    return replace(
        facts,
        aborted_on_fail=ctx.abort.aborted,
        stop_signal=ctx.signals.first,
        driver_failure=ctx.broken,
        driver_pauses=tuple(ctx.pauses),
        allow_saturated=ctx.cfg.allow_saturated,
        output_failures=tuple(f for e in ends for f in e.failures),
        outputs_lost=tuple(lost for e in ends for lost in e.lost),
        allow_output_loss=ctx.cfg.allow_output_loss,
        teardown_failure=(teardown.code, teardown.error) if teardown.code else None,
        script_aborted=script_abort(ctx.state),
        streams_lost=lost_streams(),
    )


def _assemble_summary(
    ctx: _RunContext, verdicts: list[Verdict], duration: float, extras: dict[str, Any]
) -> dict[str, Any]:
    """k6's summary layout with ``veza_ray.*`` (no outcome yet: it is decided next)."""
    prep = ctx.prep
    script_tags = prep.options.raw.get("tags") or {}  # the script's own, before --tag
    extras["identity"] = identity(
        prep.script.path, extras["options"], dict(script_tags), ctx.cfg.history.tags
    )
    return build_summary(
        ctx.state.total, verdicts, prep.trend_stats, duration, sys.stdout.isatty(), extras
    )


def _end(output: Output, err: Callable[[str], None]) -> OutputEnd:
    """An output's end; one that fails there is reported, never the end of the run."""
    try:
        return output.end()
    except Exception as exc:
        err(f"output {output.name} failed at the end: {type(exc).__name__}: {exc}")
        what = [f"{output.name}: {type(exc).__name__}: {exc}"]
        if output.name in BY_KIND:  # an output the user asked for
            return OutputEnd(output.name, lost=what)
        return OutputEnd(output.name, failures=what)


def _actor_args(prep: Prepared, cfg: RunConfig, i: int, segs: list[Segment]) -> tuple[Any, ...]:
    """An actor's constructor arguments. Its settings (the hosts it may reach, which env
    values are secrets) travel beside the scenario's env, not in it."""
    wire = [s.to_wire() for s in segs]
    settings = actor_settings(prep.allowed_hosts, secret_names(prep.env, cfg.secret_names))
    if cfg.run_tags:
        settings["run_tags"] = cfg.run_tags
    return (
        i,
        prep.script.path,
        prep.script.source,
        prep.env,
        wire,
        cfg.lease_s,
        settings,
        prep.setup_data,
    )


def _facts(
    state: MergedRun,
    verdicts: list[Verdict],
    extras: dict[str, Any],
    planned: float,
    start_epoch: float,
    duration: float,
) -> RunFacts:
    """What the merged data says happened; the driver adds what only it saw."""
    cut = state.cut_short(planned, start_epoch)
    vu_s = state.undelivered_vu_seconds(cut)
    iters = state.undelivered_iterations(cut)
    extras["delivery"] = {
        "planned_s": round(planned, 3),
        "ran_s": round(duration, 3),
        "undelivered_vu_seconds": round(vu_s, 3),
        "undelivered_iterations": iters,
        "cut_short": cut,
    }
    health = extras["generator_health"]
    saturated = tuple(
        f"actor {a['id']} on {a['address']}: loop lag p99 up to {a['loop_lag_p99_ms']:.0f} ms, "
        f"late for {a['saturated_s']:.1f} s ({a['saturated_share']:.0%} of its run)"
        for a in health["actors"]
    )
    crossed = tuple(v.crossed for v in verdicts if not v.ok)
    reqs = state.total.aggregate("http_reqs", ())
    requests = int(reqs.values(1.0)["count"]) if reqs is not None else 0
    return RunFacts(
        crossed=crossed,
        cut_short=tuple(ActorCutShort(c["actor"], c["address"], c["why"], c["at_s"]) for c in cut),
        undelivered_vu_seconds=vu_s,
        undelivered_iterations=iters,
        saturated=saturated,
        series_note=extras["series"]["note"],
        requests=requests,
        planned_s=planned,
        ran_s=duration,
    )


def _say_outcome(outcome: Outcome, err: Callable[[str], None]) -> None:
    """The verdict's last words on stderr: the code and every reason, once."""
    err(outcome_line(outcome))
    for reason in outcome.reasons[1:]:
        err(f"  - {reason}")
    for note in outcome.notes:
        err(f"  note: {note}")


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


def _emit(
    prep: Prepared,
    cfg: RunConfig,
    summary: dict[str, Any],
    facts: RunFacts,
    verdicts: list[Verdict],
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> Outcome:
    """Write the end-of-run outputs and handle_summary's files, then the text summary
    (unless handle_summary replaced it); the final outcome.

    Paths were checked before the run; one that still fails now (disk full, removed
    directory) is an output lost (exit 113 unless --allow-output-loss, docs/security.md):
    the outcome is decided again with it, the files that were written are written again
    with that outcome, and a lost summary JSON goes to a temporary file, so what was
    measured is never lost to an output error.
    """
    targets = {o.kind: t for o in OUTPUTS if o.phase == END and (t := cfg.target(o.kind))}
    lost = write_end_outputs(summary, targets, out)
    _step_summary(cfg, summary, err)
    hs_lost, show_text = _handle_summary(prep, cfg, summary, out, err)
    rescue = _rescue_path() if "summary" in lost else None
    if rescue:
        lost["summary"] += f" (the summary was saved to {rescue} instead)"
    every = [*lost.values(), *hs_lost]
    outcome = decide(replace(facts, outputs_lost=facts.outputs_lost + tuple(every)))
    if every:
        summary["veza_ray"]["outcome"] = SECRETS.redact_obj(outcome.to_wire())
        written = {k: t for k, t in targets.items() if k not in lost}
        for line in write_end_outputs(summary, written, out, skip_stdout=True).values():
            err(f"output not rewritten with the final outcome: {line}")
        if rescue:
            with open(rescue, "wb") as fh:
                fh.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if show_text:
        out(render_text(summary, verdicts))
    return outcome


def _step_summary(cfg: RunConfig, summary: dict[str, Any], err: Callable[[str], None]) -> None:
    """The CI step summary when $GITHUB_STEP_SUMMARY is set (not an output asked by flag:
    a failure is said, never counted as lost). With ``--markdown -`` too: standard output
    is the job's log, not its summary page. Not with ``--markdown FILE``: the user chose
    where the Markdown goes, and that file may be $GITHUB_STEP_SUMMARY itself."""
    from veza_ray.reports import append_step_summary, render_markdown

    if not os.environ.get("GITHUB_STEP_SUMMARY") or cfg.target("markdown") not in (None, "-"):
        return
    try:
        append_step_summary(render_markdown(summary))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err(f"could not append to $GITHUB_STEP_SUMMARY: {type(exc).__name__}: {exc}")


def _handle_summary(
    prep: Prepared,
    cfg: RunConfig,
    summary: dict[str, Any],
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> tuple[list[str], bool]:
    """Call the script's handle_summary and write what it returns: (what was lost,
    whether the default text summary is still to be shown).

    A file it names that is an input of the run or another output is not written (lost).
    """
    hs = prep.script.handle_summary
    if hs is None:
        return [], True
    try:
        result = hs(summary)
    except BaseException as exc:  # sys.exit() in handle_summary too: the run is over
        err(f"handle_summary failed ({type(exc).__name__}: {exc}); showing the default summary")
        return [], True
    if not isinstance(result, Mapping):
        err("handle_summary must return a dict of {'stdout'|'stderr'|path: text}")
        return [], True
    lost: list[str] = []
    taken = [("the scenario file", prep.script.path), *prep.script.inputs]
    taken += [(label, path) for label, path in cfg.file_outputs()]
    for key, value in result.items():
        data = value if isinstance(value, str) else orjson.dumps(value).decode()
        data = SECRETS.redact(data)  # handle_summary may add what the summary had not
        if key == "stdout":
            out(data)
        elif key == "stderr":
            err(data)
        else:
            label = f"handle_summary {key!r}"
            clash = collisions([(label, str(key))], taken)
            taken.append((f"the output of {label}", str(key)))
            failure = clash[0] if clash else write_file(label, str(key), data.encode())
            if failure:
                lost.append(failure)
    return lost, False


def _rescue_path() -> str | None:
    """A temporary file for the summary when its asked-for path failed at the end."""
    import tempfile

    try:
        fd, path = tempfile.mkstemp(prefix="veza-ray-summary-", suffix=".json")
    except OSError:
        return None
    os.close(fd)
    return path
