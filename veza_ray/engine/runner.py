"""One process's share of the load: VUs as coroutines on one event loop.

The runner owns no Ray code: the actor wraps it, and integration tests drive it directly
against a real aiohttp server. It records into a MetricStore whose deltas the driver
pulls (``snapshot``), runs each executor's timeline from schedule.py on an injected
clock, and stops gracefully (no new iterations, in-flight ones get their grace) or hard.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from veza_ray.core.digest import DELTA_MAX_CENTROIDS
from veza_ray.core.executors import executor
from veza_ray.core.executors.base import More
from veza_ray.core.guards import SECRETS, parse_allowed
from veza_ray.core.iteration_ids import iteration_in_test, iteration_stripe, vu_offset
from veza_ray.core.metric_types import MetricDef, MetricType, Tags, make_tags
from veza_ray.core.metrics import CounterSink, MetricStore, RateSink, Sink, TrendSink
from veza_ray.core.options import Options, ScenarioConfig
from veza_ray.core.plan import Segment
from veza_ray.core.wire import (
    MAX_ERROR_MESSAGES,
    OTHER_ERRORS,
    ActorDelta,
    ActorEnd,
    ScenarioStats,
)
from veza_ray.engine.clock import Clock, MonotonicClock
from veza_ray.engine.context import vu_context
from veza_ray.engine.data import DataExhausted, DataFile
from veza_ray.engine.execution import ABORT_PREFIX, TestAborted
from veza_ray.engine.http import ClientHub, HostGuard, HttpClient, Timings
from veza_ray.engine.scenario import LoadedScript, describe_exception

Flow = Callable[..., Awaitable[Any]]  # (vu) or (vu, data): setup()'s data
# An enum member read off its class costs ~80 ns in Python 3.11; this is read per sample.
_GAUGE = MetricType.GAUGE


class _HttpSinks:
    """Direct references to the sinks one (name, method, status, ...) combination feeds."""

    __slots__ = (
        "blocked",
        "connecting",
        "duration",
        "failed",
        "receiving",
        "reqs",
        "sending",
        "tls",
        "waiting",
    )

    def __init__(self, store: MetricStore, tags: Tags, with_failed: bool = True) -> None:
        def trend(name: str) -> TrendSink:
            s = store.sink(name, tags)
            assert isinstance(s, TrendSink)
            return s

        reqs = store.sink("http_reqs", tags)
        assert isinstance(reqs, CounterSink)
        self.reqs = reqs
        # No http_req_failed series for requests without a response callback (k6's null).
        self.failed: RateSink | None = None
        if with_failed:
            failed = store.sink("http_req_failed", tags)
            assert isinstance(failed, RateSink)
            self.failed = failed
        self.duration = trend("http_req_duration")
        self.blocked = trend("http_req_blocked")
        self.connecting = trend("http_req_connecting")
        self.tls = trend("http_req_tls_handshaking")
        self.sending = trend("http_req_sending")
        self.waiting = trend("http_req_waiting")
        self.receiving = trend("http_req_receiving")


class ScenarioRecorder:
    """Turns samples of one scenario into sink updates, caching tag sets per combination."""

    def __init__(self, store: MetricStore, base: Mapping[str, str]) -> None:
        self.store = store
        self.base = dict(base)
        self.base_tags = make_tags(self.base)
        self._http: dict[tuple[Any, ...], _HttpSinks] = {}
        self._custom: dict[tuple[str, Tags | None], Sink] = {}
        self._grouped: dict[tuple[Tags | None, str], Tags] = {}
        sent = store.sink("data_sent", self.base_tags)
        received = store.sink("data_received", self.base_tags)
        assert isinstance(sent, CounterSink) and isinstance(received, CounterSink)
        self._sent, self._received = sent, received
        iters = store.sink("iterations", self.base_tags)
        iter_time = store.sink("iteration_duration", self.base_tags)
        assert isinstance(iters, CounterSink) and isinstance(iter_time, TrendSink)
        self.iterations, self.iteration_duration = iters, iter_time

    def http(
        self,
        method: str,
        name: str,
        status: int,
        ok: bool | None,
        code: int,
        extra: Tags,
        t: Timings,
        sent: int,
        received: int,
    ) -> None:
        """One request's samples; ``ok`` None: no response callback (k6's null), so no
        ``expected_response`` tag and no ``http_req_failed`` sample."""
        key = (method, name, status, ok, code, extra)
        b = self._http.get(key)
        if b is None:
            tags = dict(self.base)
            tags.update(
                name=name,
                url=name,  # k6's url tag is the name too (a URL, or the name given)
                method=method,
                status=str(status),
            )
            if ok is not None:
                tags["expected_response"] = "true" if ok else "false"
            if code:
                tags["error_code"] = str(code)
            tags.update(extra)
            b = _HttpSinks(self.store, make_tags(tags), ok is not None)
            if len(self._http) < self.store.max_series_per_metric:
                self._http[key] = b  # past the limit the store folds: cache no more keys
        b.reqs.total += 1
        if b.failed is not None:
            b.failed.total += 1
            if not ok:
                b.failed.passes += 1
        b.duration.buffer.append(t.duration)
        b.blocked.buffer.append(t.blocked)
        b.connecting.buffer.append(t.connecting)
        b.tls.buffer.append(t.tls_handshaking)
        b.sending.buffer.append(t.sending)
        b.waiting.buffer.append(t.waiting)
        b.receiving.buffer.append(t.receiving)
        self._sent.total += sent
        self._received.total += received

    def grouped(self, extra: Tags | None, group: str) -> Tags:
        """``extra`` plus k6's ``group`` tag (memoised: a flow has few tag sets per group)."""
        key = (extra, group)
        hit = self._grouped.get(key)
        if hit is None:
            hit = make_tags({**dict(extra or ()), "group": group})
            if len(self._grouped) < 10_000:
                self._grouped[key] = hit
        return hit

    def custom(self, name: str, value: float, extra: Tags | None) -> None:
        key = (name, extra)
        s = self._custom.get(key)
        if s is None:
            tags = dict(self.base)
            if extra:
                tags.update(extra)
            s = self.store.sink(name, make_tags(tags))
            if len(self._custom) < self.store.max_series_per_metric:
                self._custom[key] = s  # bounded like the store's tag sets
        if s.kind is _GAUGE:
            s.add(value, time.time())  # type: ignore[call-arg]
        else:
            s.add(value)


def takes_data(fn: Callable[..., Any]) -> bool:
    """Whether a VU function declares a second parameter, for setup()'s data."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class VU:
    """The context a flow function gets: k6's __VU, __ITER, scenario and http module."""

    __slots__ = (
        "_clock",
        "_rec",
        "data",
        "env",
        "group",
        "http",
        "id",
        "id_in_instance",
        "index_in_scenario",
        "iteration",
        "iteration_in_test",
        "retired",
        "run",
        "scenario",
        "scenario_iteration",
        "slot",
        "tags",
    )

    def __init__(
        self,
        vu_id: int,
        slot: int,
        scenario: str,
        recorder: ScenarioRecorder,
        http: HttpClient,
        env: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self.id = vu_id
        self.slot = slot
        self.iteration = 0  # iterations this VU started (k6's vu.iterationInScenario)
        self.iteration_in_test = 0  # k6's scenario.iterationInTest of the current one
        self.scenario_iteration = 0  # the scenario's iterations on this actor before it
        self.retired = False  # a per-vu DataFile had no row for it: it iterates no more
        self.index_in_scenario = slot  # its place among the scenario's VUs, cluster-wide
        self.scenario = scenario
        self.http = http
        self.env = env
        self.tags = recorder.base
        self.group = ""  # k6's group path ("::a::b") while the VU is inside group()
        self.data: Any = None  # this VU's own JSON copy of setup()'s data
        self.id_in_instance = 0  # k6/execution's vu.idInInstance (set by the runner)
        self.run: Any = None  # the scenario segment it runs (k6/execution reads it)
        self._rec = recorder
        self._clock = clock

    def record(self, name: str, value: float, extra: Tags | None = None) -> None:
        if self.group:
            extra = self._rec.grouped(extra, self.group)
        self._rec.custom(name, value, extra)

    def record_http(
        self,
        method: str,
        name: str,
        status: int,
        ok: bool | None,
        code: int,
        extra: Tags,
        t: Timings,
        sent: int,
        received: int,
    ) -> None:
        """The HTTP client's sample, with this VU's group tag when it is inside one."""
        if self.group:
            extra = self._rec.grouped(extra, self.group)
        self._rec.http(method, name, status, ok, code, extra, t, sent, received)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await self._clock.sleep_until(self._clock.now() + seconds)
        else:
            await asyncio.sleep(0)


class _Scenario:
    """Runtime state of one scenario segment inside this runner: the ``SegmentRun`` an
    executor's ``run`` drives (veza_ray/core/executors/base.py)."""

    def __init__(
        self, cfg: ScenarioConfig, seg: Segment, flow: Flow, rec: ScenarioRecorder, runner: Runner
    ) -> None:
        self.cfg = cfg
        self.seg = seg
        self.flow = flow
        self.rec = rec
        self.runner = runner
        self.run = executor(cfg.executor).run  # a table lookup: an unknown name is refused
        self.with_data = takes_data(flow)
        self.stripe = iteration_stripe(cfg, seg)  # its iterationInTest numbers
        # Every index is this actor's (one actor, or no stripe): the k-th is k itself.
        st = self.stripe
        self.numbers_own = not st.residues or len(st.residues) == st.period
        self.vu_offset = vu_offset(cfg, seg)  # the scenario's VUs on actors before this one
        self.started = 0  # iterations started on this actor (k6's iterationInInstance)
        self.exhausted = False  # a per-iteration DataFile ran out under "stop"
        self.t0 = 0.0
        self.active = 0
        self.allocated = 0
        self.iterations = 0
        self.dropped = 0
        self.undelivered = 0
        self.stopping = False
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def late(self) -> bool:
        return self.runner._late

    def now(self) -> float:
        return self.runner.clock.now()

    def sleep_until(self, t: float) -> Awaitable[None]:
        return self.runner.clock.sleep_until(t)

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        asyncio.get_running_loop().call_later(delay, fn, *args)

    def new_vu(self, slot: int) -> VU:
        return self.runner._new_vu(self, slot)

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        return self.runner._spawn(self, coro)

    def iteration(self, vu: VU) -> Awaitable[None]:
        return self.runner._iteration(self, vu)

    def vu_loop(
        self, vu: VU, more: More, end: float, active: Callable[[VU], bool] = lambda vu: True
    ) -> Awaitable[None]:
        return self.runner._vu_loop(self, vu, more, end, active)

    def run_vus(self, count: int, more: More, end: float) -> Awaitable[None]:
        return self.runner._run_vus(self, self.t0, count, more, end)

    def finish(self, end: float) -> Awaitable[None]:
        return self.runner._finish(self, end)

    def drop(self) -> None:
        self.dropped += 1
        self.rec.store.sink("dropped_iterations", self.rec.base_tags).add(1.0)


class Runner:
    """Runs this process's segments; ``snapshot()`` hands out deltas, ``stop()`` ends early."""

    def __init__(
        self,
        options: Options,
        segments: Sequence[Segment],
        flows: Mapping[str, Flow],
        metrics: Mapping[str, MetricDef],
        env: Mapping[str, str],
        script_path: str = "<scenario>",
        clock: Clock | None = None,
        log: Callable[[str], None] = print,
        allowed_hosts: Iterable[str] = (),
        setup_data: str | None = None,
        datafiles: Sequence[DataFile] = (),
        response_callback: Any = None,
    ) -> None:
        self.options = options
        self.response_callback = response_callback  # the script's module-level one
        self.datafiles = list(datafiles)
        self.completed = 0  # k6's exec.instance.iterationsCompleted
        self.interrupted = 0  # ... and iterationsInterrupted (an error, abort, a stop)
        self.setup_data = setup_data  # JSON text, decoded once per VU (each gets a copy)
        self._vu_seq = 0
        self.clock: Clock = clock or MonotonicClock()
        self.env = dict(env)
        # Deltas travel at a lower resolution; the driver's cumulative digests keep 1000.
        self.store = MetricStore(metrics, DELTA_MAX_CENTROIDS)
        self.script_path = script_path
        self.log = log
        self._errors: collections.Counter[str] = collections.Counter()
        self._seen_errors: set[str] = set()
        self._other_errors = 0
        configs = {sc.name: sc for sc in options.scenarios}
        self.scenarios: list[_Scenario] = []
        for seg in segments:
            cfg = configs[seg.scenario]
            base = dict(options.tags)
            base.update(cfg.tags)
            base["scenario"] = cfg.name
            rec = ScenarioRecorder(self.store, base)
            self.scenarios.append(_Scenario(cfg, seg, flows[cfg.exec], rec, self))
        self._hub: ClientHub | None = None
        self._lag: list[float] = []
        self._secret_mark = 0  # how much of the secret book the driver has been sent
        self._cpu_mark = (time.monotonic(), time.process_time())
        self.started = False
        self.done = False
        self._start = 0.0
        self._hard_stop = asyncio.Event()
        self._late = False
        # the run's --allow-host list, from the actor's settings (not from the script's env)
        self._guard = HostGuard(parse_allowed(allowed_hosts, None))
        self.end: ActorEnd | None = None
        self._stop_reason = ""
        self._stop_at = 0.0

    # ---- public control -------------------------------------------------------------

    async def run(self, start_at: float, late: bool | None = None) -> None:
        """Run every segment from ``start_at`` (this clock's time) until all are finished.

        ``late``: whether this runner joins a timeline already under way (a replacement);
        None judges it from the clock (more than 0.5 s past ``start_at``), which a caller
        that knows (a test, a run that must not skip arrivals) can say instead.
        """
        # A replacement starts on the original timeline, already under way: arrival
        # executors then skip the iterations whose time has passed instead of bursting.
        # Judged first, before the hub and the collection below, whose pauses on a busy
        # machine must not make an on-time runner look late (and skip its first arrivals).
        self._late = self.clock.now() - start_at > 0.5 if late is None else late
        self._hub = self._new_hub()
        monitor = asyncio.create_task(self._monitor())
        # With thousands of VUs the cyclic GC ran most of the time (bench: 4.7 of 8.3
        # CPU-s at 10k VUs on the old aiohttp path). Move what exists now out of its reach
        # and collect young objects less often.
        gc_thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 100)
        try:
            await self.clock.sleep_until(start_at)
            self._start = start_at
            self.started = True
            runs = [asyncio.create_task(self._run_scenario(s)) for s in self.scenarios]
            await asyncio.gather(*runs)
        finally:
            gc.set_threshold(*gc_thresholds)
            gc.unfreeze()
            monitor.cancel()
            await self._hub.close()
            self.end = {
                "reason": self._stop_reason or "plan",
                "at": self._stop_at or time.time(),
            }
            self.done = True

    def stop(self, grace: float = 0.0, reason: str = "stopped") -> None:
        """Start no new iterations; cancel those still running after ``grace`` seconds.

        The first reason given is the one reported: a lease that expires after the driver
        asked for a stop does not turn a requested stop into a lost one.
        """
        if not self._stop_reason:
            self._stop_reason, self._stop_at = reason, time.time()
        for s in self.scenarios:
            s.stopping = True
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, grace), self._cancel_all)

    def snapshot(self) -> ActorDelta:
        """Everything measured since the previous snapshot, plus current VU counts."""
        errors = dict(self._errors)
        self._errors.clear()
        lag, self._lag = self._lag, []
        now_m, now_c = time.monotonic(), time.process_time()
        wall = now_m - self._cpu_mark[0]
        cpu = (now_c - self._cpu_mark[1]) / wall if wall > 0 else 0.0
        self._cpu_mark = (now_m, now_c)
        stats: dict[str, ScenarioStats] = {}
        for s in self.scenarios:
            stats[s.cfg.name] = {
                "active": s.active,
                "allocated": s.allocated,
                "iterations": s.iterations,
                "dropped": s.dropped,
                "undelivered": s.undelivered,
            }
        delta: ActorDelta = {
            "series": self.store.drain(),
            "scenarios": stats,
            "errors": errors,
            "lag_ms": lag,
            "cpu": cpu,
            "wall": time.time(),
            "done": self.done,
            "started": self.started,
            "end": self.end,
            "secrets": self._learned_secrets(),
        }
        if self.datafiles:
            delta["data"] = {d.name: d.usage() for d in self.datafiles}
        return delta

    def _learned_secrets(self) -> list[str]:
        """What this process's book learned since the last snapshot, for the driver."""
        values, self._secret_mark = SECRETS.learned_since(self._secret_mark)
        return values

    # ---- executors ------------------------------------------------------------------

    async def _run_scenario(self, s: _Scenario) -> None:
        """Wait for the scenario's start, then run its executor's ``run`` on the segment."""
        s.t0 = self._start + s.cfg.start_time
        await self.clock.sleep_until(s.t0)
        if s.stopping:
            return
        await s.run(s)

    def _new_hub(self) -> ClientHub:
        """The VUs' shared connections and request defaults."""
        return ClientHub(
            self.options.no_connection_reuse,
            self.options.insecure_skip_tls_verify,
            self.options.user_agent,
            guard=self._guard,
            max_body=self.options.max_response_body_size,
            max_redirects=self.options.max_redirects,
            expected=self.response_callback,
        )

    def _new_vu(self, s: _Scenario, slot: int) -> VU:
        assert self._hub is not None, "VUs are built by run()"
        env = {**self.env, **dict(s.cfg.env)}
        s.allocated += 1
        vu = VU(s.seg.vu_id_base + slot, slot, s.cfg.name, s.rec, None, env, self.clock)  # type: ignore[arg-type]
        vu.http = HttpClient(
            self._hub, vu.record_http, self.options.discard_response_bodies, guard=self._guard
        )
        if s.with_data and self.setup_data is not None:
            vu.data = json.loads(self.setup_data)
        self._vu_seq += 1
        vu.id_in_instance, vu.run = self._vu_seq, s
        vu.index_in_scenario = s.vu_offset + slot
        return vu

    def _number(self, s: _Scenario, vu: VU) -> None:
        """k6's iteration counters, taken as the iteration starts: the scenario's local
        count and its cluster-wide number (core/iteration_ids.py)."""
        k = s.started
        s.started += 1
        vu.scenario_iteration = k
        vu.iteration_in_test = k if s.numbers_own else iteration_in_test(s.stripe, k)

    async def _iteration(self, s: _Scenario, vu: VU) -> None:
        if s.exhausted or vu.retired:
            return  # its data ran out: the VU (or the scenario here) does no more work
        self._number(s, vu)
        token = vu_context.set(vu)
        t0 = time.perf_counter()
        ok = False
        try:
            await (s.flow(vu, vu.data) if s.with_data else s.flow(vu))
            ok = True
        except asyncio.CancelledError:
            self.interrupted += 1
            raise
        except DataExhausted as exc:  # the user's on_exhausted="stop": not an error
            self.interrupted += 1
            if exc.split == "per-vu":
                vu.retired = True
            else:
                s.exhausted = True
            return
        except TestAborted as exc:  # k6/execution's test.abort(): this actor, then all
            self.log(f"test.abort() called: {exc.reason or '(no reason)'}")
            self.stop(0.0, reason=f"{ABORT_PREFIX}: {SECRETS.redact(exc.reason)}")
        except BaseException as exc:  # sys.exit() or KeyboardInterrupt in a flow included:
            # in k6 an exception ends the iteration, never the VU or the instance.
            self._error(describe_exception(exc, self.script_path))
        finally:
            vu_context.reset(token)
        if ok:
            self.completed += 1
        else:
            self.interrupted += 1
        s.rec.iteration_duration.buffer.append((time.perf_counter() - t0) * 1000.0)
        s.rec.iterations.total += 1.0
        s.iterations += 1
        vu.iteration += 1

    def _error(self, message: str) -> None:
        """Count an iteration error; only the first MAX_ERROR_MESSAGES distinct messages are
        kept (and logged) verbatim, so a flow raising a new message each time stays bounded."""
        message = SECRETS.redact(message)  # before it is counted, logged or sent anywhere
        if message not in self._seen_errors:
            if len(self._seen_errors) >= MAX_ERROR_MESSAGES:
                if self._other_errors == 0:
                    self.log(
                        f"iteration error: more than {MAX_ERROR_MESSAGES} distinct "
                        "messages; the rest are counted, not logged"
                    )
                self._other_errors += 1
                self._errors[OTHER_ERRORS] += 1
                return
            self._seen_errors.add(message)
            self.log(f"iteration error: {message}")
        self._errors[message] += 1

    async def _vu_loop(
        self,
        s: _Scenario,
        vu: VU,
        more: Callable[[VU, int], bool],
        end: float,
        active: Callable[[VU], bool] = lambda vu: True,
    ) -> None:
        s.active += 1
        try:
            n = 0
            while (
                not s.stopping
                and not s.exhausted
                and not vu.retired
                and self.clock.now() < end
                and active(vu)
                and more(vu, n)
            ):
                await self._iteration(s, vu)
                n += 1
        finally:
            s.active -= 1

    async def _run_vus(
        self, s: _Scenario, t0: float, count: int, more: Callable[[VU, int], bool], end: float
    ) -> None:
        vus = [self._new_vu(s, i) for i in range(count)]
        for vu in vus:
            self._spawn(s, self._vu_loop(s, vu, more, end))
        await self._finish(s, end)

    def _spawn(self, s: _Scenario, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        s.tasks.add(task)
        task.add_done_callback(s.tasks.discard)
        return task

    async def _finish(self, s: _Scenario, end: float) -> None:
        """Wait for the planned end, then up to gracefulStop for iterations in flight."""
        if s.tasks and not s.stopping:
            await self._wait(s, end)
        if s.tasks:
            await self._wait(s, max(end, self.clock.now()) + s.cfg.graceful_stop)
        for task in list(s.tasks):
            task.cancel()
        if s.tasks:
            await asyncio.gather(*s.tasks, return_exceptions=True)

    async def _wait(self, s: _Scenario, until: float) -> None:
        """Wait for this scenario's tasks until ``until``; stop() cancels them sooner."""
        left = until - self.clock.now()
        if s.tasks and left > 0 and not self._hard_stop.is_set():
            await asyncio.wait(set(s.tasks), timeout=left)

    def _cancel_all(self) -> None:
        self._hard_stop.set()
        for s in self.scenarios:
            for task in list(s.tasks):
                task.cancel()

    async def _monitor(self) -> None:
        """Event-loop lag: how late a 100 ms timer fires tells how busy this loop is."""
        period = 0.1
        while True:
            t = time.monotonic()
            await asyncio.sleep(period)
            self._lag.append(max(0.0, (time.monotonic() - t - period) * 1000.0))


def build_runner(
    script: LoadedScript,
    options: Options,
    segments: Sequence[Segment],
    env: Mapping[str, str],
    log: Callable[[str], None] = print,
    clock: Clock | None = None,
    allowed_hosts: Iterable[str] = (),
    setup_data: str | None = None,
) -> Runner:
    """A Runner for a loaded script's segments (what an actor, or a test, runs)."""
    configs = {sc.name: sc for sc in options.scenarios}
    flows: dict[str, Flow] = {}
    for seg in segments:
        name = configs[seg.scenario].exec
        fn = script.flow(name)
        if fn is None:
            raise ValueError(f"exec {name!r} names no function in {script.path}")
        flows[name] = fn
    return Runner(
        options,
        segments,
        flows,
        script.all_metrics,
        env,
        script.path,
        clock=clock,
        log=log,
        allowed_hosts=allowed_hosts,
        setup_data=setup_data,
        datafiles=script.datafiles,
        response_callback=script.response_callback,
    )
