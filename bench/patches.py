"""Candidate changes to veza-ray's request path, as monkeypatches (nothing under veza_ray/
is edited): ``python -m bench.vr_inproc SCRIPT --patch NAME`` measures one, and
``python -m bench profile`` measures each against the unpatched path, A B A B.

Every patch keeps every metric k6 reports (the same series, tags and values); each one's
docstring says what it changes and what the lead would edit in veza_ray/. Applied already
(kept for the record; no-ops on the current code): lean_request, check_cache and
iter_sinks (commit 35ebbe8), merge_fast, interval_lean and wire_200 (commit 8b1e493).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

PATCHES: dict[str, Callable[[], None]] = {}
GC_THRESHOLD = tuple(
    int(x) for x in os.environ.get("BENCH_GC_THRESHOLD", "10000,20,100").split(",")
)


def patch(fn: Callable[[], None]) -> Callable[[], None]:
    PATCHES[fn.__name__] = fn
    return fn


def apply(names: list[str]) -> None:
    for name in names:
        for one in name.split("+"):
            if one not in PATCHES:
                raise SystemExit(f"unknown patch {one!r}; known: {', '.join(PATCHES)}")
            PATCHES[one]()


@patch
def gc_freeze() -> None:
    """Keep the cyclic GC off the VUs' long-lived objects. aiohttp allocates dozens of
    container objects per request, so generation-0 collections run hundreds of times a
    second, and every ~100th is a full collection that walks every live object: with
    10,000 VUs (a ClientSession, cookie jar, task and coroutine frames each) that was
    over half of the process's CPU. Change, in veza_ray/runner.py: in ``Runner.run``,
    ``gc.set_threshold(50_000, 20, 100)`` (restore the old thresholds in its finally);
    in ``_run_vus`` (and wherever ``_new_vu`` builds VUs in bulk: ramping, arrival),
    ``gc.freeze()`` right after the VUs are built (O(1): it moves what is tracked into the
    permanent generation, which collections skip; ``gc.unfreeze()`` at the end of run)."""
    import veza_ray.runner as r

    orig_run = r.Runner.run

    async def run(self: Any, start_at: float) -> None:
        old = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        gc.freeze()
        try:
            await orig_run(self, start_at)
        finally:
            gc.set_threshold(*old)
            gc.unfreeze()

    async def _run_vus(self: Any, s: Any, t0: float, count: int, more: Any, end: float) -> None:
        vus = [self._new_vu(s, i) for i in range(count)]
        gc.freeze()
        for vu in vus:
            self._spawn(s, self._vu_loop(s, vu, more, end))
        await self._finish(s, end)

    r.Runner.run = run  # type: ignore[method-assign]
    r.Runner._run_vus = _run_vus  # type: ignore[method-assign]


@patch
def check_cache() -> None:
    """check(): build each check's tag set once (per check name and tags), not a dict
    copy plus a sorted tuple per predicate per call. In veza_ray/api.py check()."""
    import veza_ray.api as api
    from veza_ray.context import vu_context
    from veza_ray.metric_types import make_tags

    cache: dict[tuple[str, Any], Any] = {}

    def tagset(name: str, tags: Mapping[str, str] | None) -> Any:
        key = (name, tuple(tags.items()) if tags else None)
        t = cache.get(key)
        if t is None:
            extra = dict(tags or {})
            extra["check"] = name
            t = cache[key] = make_tags(extra)
        return t

    def check(value: Any, checks: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> bool:
        vu = vu_context.get()
        if vu is None:
            raise RuntimeError("check() can only be called while a VU runs a flow function")
        ok_all = True
        for name, predicate in checks.items():
            t = tagset(name, tags)
            try:
                ok = bool(predicate(value)) if callable(predicate) else bool(predicate)
            except BaseException:
                vu.record("checks", 0.0, t)
                raise
            ok_all = ok_all and ok
            vu.record("checks", 1.0 if ok else 0.0, t)
        return ok_all

    api.check = check
    import veza_ray

    veza_ray.check = check  # scenario files import it from the package


@patch
def lean_request() -> None:
    """HttpClient.request with the per-request allocations taken out, same metrics:
    one ClientTimeout per timeout value (not an attrs object per request); the name and
    extra tags of a ``tags=`` dict looked up in a cache keyed by its items; a discarded
    body drained with ``readany()`` (no async-iterator object) and counted from the
    stream's ``total_raw_bytes``; header bytes summed once with a plain loop. In
    veza_ray/http.py HttpClient.request."""
    import aiohttp

    import veza_ray.http as h

    timeouts: dict[float, aiohttp.ClientTimeout] = {}
    tagcache: dict[tuple[tuple[str, str], ...], tuple[str, tuple[tuple[str, str], ...]]] = {}

    async def request(
        self: Any,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        params: Any = None,
        tags: Mapping[str, str] | None = None,
        timeout: float | None = None,
        expected_statuses: Any = None,
        response_body: bool | None = None,
    ) -> Any:
        method = method.upper()
        if self._guard is not None:
            refusal = self._guard.refusal(url)
            if refusal:
                return self._refused(method, url, tags, refusal)
        body: Any = data
        hdrs: dict[str, str] | None = dict(headers) if headers else None
        if json is not None:
            body = h.orjson.dumps(json)
            hdrs = hdrs or {}
            hdrs.setdefault("Content-Type", "application/json")
        keep = (not self._discard) if response_body is None else response_body
        tmo = timeout or self._timeout
        ct = timeouts.get(tmo)
        if ct is None:
            ct = timeouts[tmo] = aiohttp.ClientTimeout(total=tmo)
        ph = h._Phase()
        token = h._phase.set(ph)
        status, resp_headers, kept = 0, {}, None
        err, code, received = "", 0, 0
        t0 = perf_counter()
        t_head = t_end = t0
        try:
            async with self._session.request(
                method, url, headers=hdrs, data=body, params=params, timeout=ct
            ) as resp:
                t_head = perf_counter()
                status = resp.status
                if keep:
                    resp_headers = dict(resp.headers)
                    kept = await resp.read()
                    received = len(kept)
                else:
                    content = resp.content
                    while not content.at_eof():
                        await content.readany()
                    received = content.total_raw_bytes
                t_end = perf_counter()
                hb = 17
                for k, v in resp.raw_headers:
                    hb += len(k) + len(v) + 4
                received += hb
        except Exception as exc:
            now = perf_counter()
            if status:
                t_end = now
            else:
                t_head = t_end = now
            code, err = h.classify_error(exc)
        finally:
            h._phase.reset(token)
        start = ph.acquired or t0
        blocked = max(0.0, (start - t0) - ph.connecting)
        sent_at = ph.sent if ph.sent and ph.sent <= t_head else start
        timings = h.Timings(
            blocked=blocked * 1000.0,
            connecting=ph.connecting * 1000.0,
            sending=max(0.0, sent_at - start) * 1000.0,
            waiting=max(0.0, t_head - sent_at) * 1000.0,
            receiving=max(0.0, t_end - t_head) * 1000.0,
        )
        ok = (
            200 <= status < 400
            if expected_statuses is None
            else h.is_expected(status, expected_statuses)
        ) and not err
        if tags:
            tkey = tuple(tags.items())
            ne = tagcache.get(tkey)
            if ne is None:
                ne = tagcache[tkey] = (
                    tags.get("name", url),
                    tuple(sorted((k, v) for k, v in tags.items() if k != "name")),
                )
            name, extra = ne
            if "name" not in tags:
                name = url
        else:
            name, extra = url, ()
        sent_bytes = len(method) + len(url) + 12 + h._body_len(body)
        if hdrs:
            sent_bytes += sum(len(k) + len(v) + 4 for k, v in hdrs.items())
        self._record(method, name, status, ok, code, extra, timings, sent_bytes, received)
        return h.Response(method, url, status, resp_headers, kept, timings, err, code)

    h.HttpClient.request = request  # type: ignore[method-assign]


@patch
def iter_sinks() -> None:
    """Runner._iteration: hold direct references to the iteration_duration and
    iterations sinks per scenario instead of two (name, tags) dict look-ups per
    iteration. In veza_ray/runner.py (ScenarioRecorder: two attributes made once)."""
    import time

    import veza_ray.runner as r
    from veza_ray.context import vu_context
    from veza_ray.scenario import describe_exception

    async def _iteration(self: Any, s: Any, vu: Any) -> None:
        sinks = getattr(s, "_bench_sinks", None)
        if sinks is None:
            base = s.rec.base_tags
            sinks = s._bench_sinks = (
                s.rec.store.sink("iteration_duration", base),
                s.rec.store.sink("iterations", base),
            )
        token = vu_context.set(vu)
        t0 = time.perf_counter()
        try:
            await s.flow(vu)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error(describe_exception(exc, self.script_path))
        finally:
            vu_context.reset(token)
        sinks[0].buffer.append((time.perf_counter() - t0) * 1000.0)
        sinks[1].total += 1.0
        s.iterations += 1
        vu.iteration += 1

    r.Runner._iteration = _iteration  # type: ignore[method-assign]


@patch
def plain_connector() -> None:
    """NOT a proposal (it loses http_req_blocked/connecting): aiohttp's own TCPConnector
    instead of TimedConnector, to measure what the connector override costs."""
    import aiohttp

    import veza_ray.http as h
    import veza_ray.runner as r

    def new_connector(no_reuse: bool = False, insecure: bool = False) -> Any:
        return aiohttp.TCPConnector(
            limit=0, force_close=no_reuse, ssl=not insecure, ttl_dns_cache=300
        )

    h.new_connector = new_connector
    r.new_connector = new_connector


@patch
def merge_fast() -> None:
    """The driver's merge without the per-centroid Python work, same numbers:
    (1) ``Digest.from_wire`` hands the wire's centroid list (already fastdigest's
    ``{"m", "c"}`` layout) straight to ``TDigest.from_dict`` with ``mass = count``
    (exact: every value weighs 1), instead of rebuilding every centroid dict and
    ``math.fsum``-ing the weights; (2) ``MergedRun.merge`` decodes each series once and
    merges it into both the cumulative and the interval store (it decoded twice);
    (3) ``Digest.to_wire`` (actor side) ships ``to_dict()["centroids"]`` as it is.
    In veza_ray/digest.py and veza_ray/merge.py."""
    from fastdigest import TDigest

    import veza_ray.digest as dg
    import veza_ray.merge as mg
    from veza_ray.metrics import _SINK_CLASSES
    from veza_ray.runner import lag_p99

    def from_wire(cls: Any, wire: Any) -> Any:
        if wire.get("v") != dg.WIRE_VERSION:
            raise ValueError(f"digest wire version {wire.get('v')!r} is not {dg.WIRE_VERSION}")
        out = cls(int(wire["max_centroids"]))
        out.count = int(wire["count"])
        if out.count == 0:
            return out
        out.sum = float(wire["sum"])
        out.min = float(wire["min"])
        out.max = float(wire["max"])
        cents = wire["centroids"]
        if cents:
            out._td = TDigest.from_dict(
                {
                    "max_centroids": out.max_centroids,
                    "mass": float(out.count),
                    "sum": out.sum,
                    "min": out.min,
                    "max": out.max,
                    "n_values": out.count,
                    "centroids": cents,
                }
            )
        return out

    def to_wire(self: Any) -> Any:
        cents = self._td.to_dict()["centroids"] if self._td is not None else []
        return {
            "v": dg.WIRE_VERSION,
            "max_centroids": self.max_centroids,
            "count": self.count,
            "sum": self.sum,
            "min": self.min if self.count else 0.0,
            "max": self.max if self.count else 0.0,
            "centroids": cents,
        }

    def merge(self: Any, actor: int, delta: Any) -> None:
        total, interval = self.total, self.interval
        defs = total.defs
        for item in delta["series"]:
            name = item["m"]
            d = defs.get(name)
            if d is None:
                continue
            tags = tuple((k, v) for k, v in item["t"])
            incoming = _SINK_CLASSES[d.type].from_wire(item["s"])
            total.sink(name, tags).merge(incoming)
            interval.sink(name, tags).merge(incoming)
        self.actor_stats[actor] = dict(delta["scenarios"])
        self.done_iterations[actor] = {
            n: int(st["iterations"]) for n, st in delta["scenarios"].items()
        }
        for msg, count in delta["errors"].items():
            self.errors[msg] = self.errors.get(msg, 0) + count
        if delta["started"]:
            self.lag.setdefault(actor, []).append(lag_p99(delta["lag_ms"]))
            self.cpu.setdefault(actor, []).append(delta["cpu"])

    dg.Digest.from_wire = classmethod(from_wire)  # type: ignore[method-assign,assignment]
    dg.Digest.to_wire = to_wire  # type: ignore[method-assign]
    mg.MergedRun.merge = merge  # type: ignore[method-assign]


@patch
def wire_200() -> None:
    """Actors fold each interval's values into a 200-centroid digest (the cumulative
    digests on the driver stay at 1000): 5x fewer centroids to serialise, ship and
    parse each second. In veza_ray/metrics.py TrendSink (a ``delta_centroids`` for the
    actor's per-interval digest) and veza_ray/digest.py Digest.merge (an empty digest
    adopts its own max_centroids, not the incoming one's)."""
    from fastdigest import TDigest

    import veza_ray.digest as dg
    import veza_ray.metrics as mt

    orig_init = mt.TrendSink.__init__

    def init(self: Any, max_centroids: int = dg.DEFAULT_MAX_CENTROIDS) -> None:
        orig_init(self, max_centroids)

    def flush(self: Any) -> None:
        if self.buffer:
            if self.digest._td is None and self.digest.count == 0:
                self.digest = dg.Digest(200)
            self.digest.add_many(self.buffer)
            self.buffer = []

    def reset(self: Any) -> None:
        self.buffer = []
        self.digest = dg.Digest(dg.DEFAULT_MAX_CENTROIDS)

    def dmerge(self: Any, other: Any) -> None:
        if other.count == 0:
            return
        if other._td is not None:
            if self._td is None:
                self._td = TDigest(max_centroids=self.max_centroids)
            self._td.merge_inplace(other._td)
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def from_wire(cls: Any, w: Any) -> Any:
        s = cls()
        s.digest = dg.Digest.from_wire(w["digest"])
        return s

    mt.TrendSink.__init__ = init  # type: ignore[method-assign]
    mt.TrendSink.flush = flush  # type: ignore[method-assign]
    mt.TrendSink.reset = reset  # type: ignore[method-assign]
    mt.TrendSink.from_wire = classmethod(from_wire)  # type: ignore[method-assign,assignment]
    dg.Digest.merge = dmerge  # type: ignore[method-assign]


@patch
def interval_lean() -> None:
    """Needs merge_fast. The interval store feeds only close_interval (per-scenario
    http_reqs, http_req_duration, http_req_failed for the live view and the ndjson
    series), so merge only those series into it; every series still goes into the
    cumulative store that thresholds and the summary read. In veza_ray/merge.py."""
    import veza_ray.merge as mg

    keep = {"http_reqs", "http_req_duration", "http_req_failed"}
    fast = mg.MergedRun.merge

    def merge(self: Any, actor: int, delta: Any) -> None:
        real = self.interval
        self.interval = _Only(real, keep)
        try:
            fast(self, actor, delta)
        finally:
            self.interval = real

    mg.MergedRun.merge = merge  # type: ignore[method-assign]


class _Only:
    """A MetricStore stand-in whose sink() hands out a throwaway sink for other names."""

    def __init__(self, store: Any, names: set[str]) -> None:
        self.store, self.names = store, names

    def sink(self, name: str, tags: Any) -> Any:
        if name in self.names:
            return self.store.sink(name, tags)
        return _NULL

    def merge_wire(self, wire: Any) -> None:
        self.store.merge_wire([w for w in wire if w["m"] in self.names])


class _NullSink:
    def merge(self, other: Any) -> None:
        return None


_NULL = _NullSink()


@patch
def wire_bin() -> None:
    """Needs wire_200. Centroids as fastdigest's own binary (``to_bytes``, base64 in the
    JSON) instead of a list of dicts: ~5x less to parse. Caveat from DESIGN.md: that
    format changed between fastdigest releases, so the wire must carry the fastdigest
    version and fall back to the dict form when actor and driver differ."""
    import base64

    from fastdigest import TDigest

    import veza_ray.digest as dg

    def to_wire(self: Any) -> Any:
        out = {
            "v": dg.WIRE_VERSION,
            "max_centroids": self.max_centroids,
            "count": self.count,
            "sum": self.sum,
            "min": self.min if self.count else 0.0,
            "max": self.max if self.count else 0.0,
            "centroids": [],
        }
        if self._td is not None:
            out["bin"] = base64.b64encode(self._td.to_bytes()).decode()
        return out

    orig = dg.Digest.from_wire.__func__  # type: ignore[attr-defined]

    def from_wire(cls: Any, wire: Any) -> Any:
        b = wire.get("bin")
        if b is None:
            return orig(cls, wire)
        out = cls(int(wire["max_centroids"]))
        out.count = int(wire["count"])
        out.sum, out.min, out.max = float(wire["sum"]), float(wire["min"]), float(wire["max"])
        out._td = TDigest.from_bytes(base64.b64decode(b))
        return out

    dg.Digest.to_wire = to_wire  # type: ignore[method-assign]
    dg.Digest.from_wire = classmethod(from_wire)  # type: ignore[method-assign,assignment]


@patch
def delta_100() -> None:
    """Per-interval delta digests of 100 centroids instead of 200 (veza_ray.digest
    DELTA_MAX_CENTROIDS): half the centroids to serialise and parse each second."""
    import veza_ray.digest as dg
    import veza_ray.runner as r

    dg.DELTA_MAX_CENTROIDS = 100  # type: ignore[misc]
    if hasattr(r, "DELTA_MAX_CENTROIDS"):
        r.DELTA_MAX_CENTROIDS = 100  # type: ignore[attr-defined]


# What is still proposed on top of the current veza_ray/ (the others went in: 35ebbe8
# took lean_request, check_cache and iter_sinks; 8b1e493 took merge_fast, interval_lean
# and wire_200).
ALL_PROPOSED = "gc_freeze"
