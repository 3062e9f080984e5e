"""``-o prometheus=URL``: the merged, cluster-wide series pushed by Prometheus remote write.

Named as k6's ``experimental-prometheus-rw`` output names them (grafana/k6
``internal/output/prometheusrw/remotewrite/{remotewrite,prometheus,trend}.go``), so the
k6 Prometheus dashboards work unchanged: ``k6_`` prefix, counters ``k6_<name>_total``,
rates ``k6_<name>_rate``, gauges ``k6_<name>``, trends one gauge per stat of
K6_PROMETHEUS_RW_TREND_STATS (default ``p(99)``) as ``k6_<name>_<stat>`` with ``p(99.9)``
spelled ``p999`` and time values in seconds; every tag a label, ``testid`` added. Values
are cumulative since the start of the test, as k6's (its sinks live for the whole run).
The difference is where they come from: one stream of digests merged across every actor,
not one stream per k6 process. docs/prometheus.md lists every difference.

The driver loop only maps the store to (labels, value) pairs (``interval``); encoding
(protobuf + snappy) and sending happen on a background thread that always sends the
newest batch, retries with backoff and never blocks the loop. ``end`` waits a bounded
time for the last batch and returns what could not be sent, for the summary.
"""

from __future__ import annotations

import base64
import collections
import http.client
import math
import re
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from veza_ray.core import trend_stats
from veza_ray.core.guards import SECRETS, host_refusal
from veza_ray.core.metric_types import MetricType, Tags, ValueType
from veza_ray.core.metrics import CounterSink, GaugeSink, RateSink, Sink, TrendSink, trend_stat
from veza_ray.outputs.base import Interval, OutputContext, OutputEnd, RunStart
from veza_ray.readcap import (
    PUSH_ANSWER_CAP,
    Deadline,
    ReadLimit,
    WatchedOpener,
    read_capped,
    socket_timeout_setter,
)

if TYPE_CHECKING:
    from veza_ray.core.merge import MergedRun
    from veza_ray.core.metrics import MetricStore
    from veza_ray.core.thresholds import Verdict

PREFIX = "k6_"
OWN_PREFIX = "k6_veza_ray_"
# k6: defaultTrendStats = []string{"p(99)"} (prometheusrw/remotewrite/config.go).
PRW_DEFAULT_TREND_STATS: tuple[str, ...] = ("p(99)",)
# Series past this many are not sent (k6 has no cap; a `name` full of ids would grow
# the series count without bound). VEZA_RAY_PROMETHEUS_MAX_SERIES changes it.
DEFAULT_MAX_SERIES = 2000
# k6: defaultTimeout = 5 * time.Second for one write request.
REQUEST_TIMEOUT_S = 5.0
# How long end() waits for the last batch before giving up on it.
FLUSH_WAIT_S = 5.0
# Retry backoff on a failing endpoint: 0.25 s doubling to 4 s; a batch is given up after
# MAX_ATTEMPTS tries, or as soon as a newer one (cumulative values: it supersedes) waits.
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 4.0
MAX_ATTEMPTS = 5
# Prometheus' staleness marker (value.StaleNaN): a NaN with this exact bit pattern.
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

# veza-ray's own series, each as OWN_PREFIX + name (docs/prometheus.md describes them).
OWN_SERIES: tuple[str, ...] = (
    "scenario_vus",
    "scenario_http_req_duration_p95",
    "scenario_http_req_duration_p99",
    "threshold_observed",
    "threshold_bound",
    "threshold_ok",
    "generator_loop_lag_p99_seconds",
    "generator_cpu_ratio",
    "generator_saturated",
    "actors_lost",
)

# k6 settings this output does not implement: refused rather than silently ignored.
UNSUPPORTED = (
    "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM",
    "K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY",
    "K6_PROMETHEUS_RW_CLIENT_CERTIFICATE",
    "K6_PROMETHEUS_RW_SIGV4_REGION",
)

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_]")
_USERINFO = re.compile(r"//[^/@\s]*@")

Labels = tuple[tuple[str, str], ...]
Point = tuple[Labels, float]


class PrometheusConfigError(ValueError):
    """Bad ``-o prometheus=`` URL or K6_PROMETHEUS_RW_* setting; ``errors`` names each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class PrometheusConfig:
    """What the output needs, read once from the URL and the environment."""

    url: str
    trend_stats: tuple[str, ...] = PRW_DEFAULT_TREND_STATS
    labels: Labels = ()
    max_series: int = DEFAULT_MAX_SERIES
    stale_markers: bool = False
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def shown_url(self) -> str:
        """The URL without user info or query (either may carry a secret)."""
        p = urlsplit(self.url)
        host = p.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{p.port}" if p.port else ""
        return f"{p.scheme}://{host}{port}{p.path}"


def stat_suffix(stat: str) -> str:
    """k6's series suffix for a trend stat: p(99) -> p99, p(99.9) -> p999, avg -> avg."""
    if stat.startswith("p("):
        return "p" + stat[2:-1].replace(".", "")
    return stat


def parse_config(url: str, env: Mapping[str, str], allowed: frozenset[str]) -> PrometheusConfig:
    """Validate the URL (the project's host guard: loopback or --allow-host) and the
    K6_PROMETHEUS_RW_* settings k6 documents; raise PrometheusConfigError naming each."""
    errors: list[str] = []
    refusal = host_refusal(url, allowed)
    if refusal:
        msg = f"--out prometheus={url}: {refusal.replace('BASE_URL ', '')}"
        errors.append(_USERINFO.sub("//***@", msg))  # a password in the URL is not shown
    stats = PRW_DEFAULT_TREND_STATS
    raw_stats = env.get("K6_PROMETHEUS_RW_TREND_STATS")
    if raw_stats is not None:
        items = [s.strip() for s in raw_stats.split(",") if s.strip()]
        bad = [s for s in items if not trend_stats.is_stat(s, trend_stats.PROMETHEUS)]
        if bad or not items:
            errors.append(
                f"K6_PROMETHEUS_RW_TREND_STATS={raw_stats!r}: use a comma-separated list of "
                + trend_stats.describe(trend_stats.PROMETHEUS)
            )
        else:
            stats = tuple(dict.fromkeys(items))
        suffixes = [stat_suffix(s) for s in stats]
        if len(set(suffixes)) != len(suffixes):
            errors.append(f"K6_PROMETHEUS_RW_TREND_STATS={raw_stats!r}: two stats share a name")
    labels: dict[str, str] = {}
    for pair in (env.get("K6_PROMETHEUS_RW_LABELS") or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            errors.append(f"K6_PROMETHEUS_RW_LABELS: {pair!r} is not key=value")
            continue
        labels[key.strip()] = value.strip()
    max_series = DEFAULT_MAX_SERIES
    raw_max = env.get("VEZA_RAY_PROMETHEUS_MAX_SERIES")
    if raw_max is not None:
        try:
            max_series = int(raw_max)
            if max_series < 1:
                raise ValueError
        except ValueError:
            errors.append(
                f"VEZA_RAY_PROMETHEUS_MAX_SERIES={raw_max!r}: must be a whole number >= 1"
            )
    stale = (env.get("K6_PROMETHEUS_RW_STALE_MARKERS") or "false").strip().lower()
    if stale not in ("true", "false", "1", "0"):
        errors.append(f"K6_PROMETHEUS_RW_STALE_MARKERS={stale!r}: must be true or false")
    for name in UNSUPPORTED:
        value = (env.get(name) or "").strip().lower()
        if value and value not in ("false", "0"):
            errors.append(
                f"{name}: not supported by veza-ray's prometheus output (docs/prometheus.md)"
            )
    headers, header_errors = _headers(env)
    errors.extend(header_errors)
    url, headers = _userinfo_to_header(url, headers)
    if errors:
        raise PrometheusConfigError(errors)
    return PrometheusConfig(
        url=url,
        trend_stats=stats,
        labels=tuple(
            (_label_name(k), v) for k, v in labels.items() if v and not k.startswith("__")
        ),
        max_series=max_series,
        stale_markers=stale in ("true", "1"),
        headers=headers,
    )


def _headers(env: Mapping[str, str]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """Authentication and extra headers, as k6 reads them (never printed)."""
    out: list[tuple[str, str]] = []
    errors: list[str] = []
    for pair in (env.get("K6_PROMETHEUS_RW_HTTP_HEADERS") or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            errors.append("K6_PROMETHEUS_RW_HTTP_HEADERS: an item is not key:value")
            continue
        out.append((key.strip(), value.strip()))
    for name, value in env.items():
        if name.startswith("K6_PROMETHEUS_RW_HEADERS_") and len(name) > 25:
            out.append((name[25:], value))
    token = env.get("K6_PROMETHEUS_RW_BEARER_TOKEN")
    user, password = env.get("K6_PROMETHEUS_RW_USERNAME"), env.get("K6_PROMETHEUS_RW_PASSWORD")
    if token:
        out.append(("Authorization", f"Bearer {token}"))
    elif user or password:
        cred = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
        out.append(("Authorization", f"Basic {cred}"))
    return tuple(out), errors


def _userinfo_to_header(
    url: str, headers: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``http://user:pass@host/...``: basic authentication, and the URL without it."""
    try:
        p = urlsplit(url)
    except ValueError:
        return url, headers
    if p.username is None and p.password is None:
        return url, headers
    netloc = p.netloc.rpartition("@")[2]
    cred = f"{unquote(p.username or '')}:{unquote(p.password or '')}"
    auth = ("Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
    rest = tuple(h for h in headers if h[0].lower() != "authorization")
    return p._replace(netloc=netloc).geturl(), (*rest, auth)


def default_test_id(tags: Iterable[tuple[str, str]], script_path: str, epoch: float) -> str:
    """The script's own ``testid`` tag (k6's advice: a test-wide tag), else one made of the
    script's name and the start time, so every run is its own series in Prometheus."""
    own = dict(tags).get("testid")
    if own:
        return own
    when = datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{Path(script_path).stem}-{when}"


def _label_name(key: str) -> str:
    """A tag key as a valid label name (Prometheus: [a-zA-Z_][a-zA-Z0-9_]*)."""
    name = _LABEL_BAD.sub("_", key)
    return "_" + name if not name or name[0].isdigit() else name


def series_labels(tags: Tags, test_id: str, static: Labels = ()) -> tuple[tuple[str, str], ...]:
    """The labels of one k6 series, without ``__name__``: every non-empty tag (k6 skips
    empty keys and values), ``url`` dropped when ``name`` is set (k6's URL grouping: the
    name is what groups a URL full of ids), ``testid`` and the static labels added where
    the tags lack them (tags win, as in k6), reserved ``__`` keys dropped."""
    have = {k: v for k, v in tags if k and v}
    if "name" in have:
        have.pop("url", None)
    out: dict[str, str] = {}
    for k, v in have.items():
        if not k.startswith("__"):
            out[_label_name(k)] = v
    out.setdefault("testid", test_id)
    for k, v in static:
        out.setdefault(k, v)
    return tuple(sorted(out.items()))


def with_name(labels: Labels, name: str) -> Labels:
    """Labels plus ``__name__``, sorted as the remote write spec asks."""
    return tuple(sorted((*labels, ("__name__", name))))


def unit_value(contains: ValueType, value: float) -> float:
    """k6's adaptUnit: time values from milliseconds to seconds, others unchanged."""
    return value / 1000.0 if contains is ValueType.TIME else value


def prom_names(metric: str, kind: MetricType, trend_stats: Sequence[str]) -> list[str]:
    """The Prometheus names one k6 metric becomes."""
    base = PREFIX + metric
    if kind is MetricType.COUNTER:
        return [base + "_total"]
    if kind is MetricType.RATE:
        return [base + "_rate"]
    if kind is MetricType.GAUGE:
        return [base]
    return [f"{base}_{stat_suffix(s)}" for s in trend_stats]


def sink_values(sink: Sink, contains: ValueType, trend_stats: Sequence[str]) -> list[float]:
    """The values for ``prom_names``, in the same order, as k6's MapPrompb computes them."""
    if isinstance(sink, CounterSink):
        return [sink.total]
    if isinstance(sink, RateSink):
        return [sink.passes / sink.total if sink.total else 0.0]
    if isinstance(sink, GaugeSink):
        return [sink.value if not sink.empty() else 0.0]
    assert isinstance(sink, TrendSink)
    d = sink.digest
    out = []
    for stat in trend_stats:
        v = trend_stat(d, stat)
        out.append(v if stat == "count" else unit_value(contains, v))
    return out


class SeriesMapper:
    """Maps a MetricStore to remote-write points, admitting at most ``max_series``.

    Pure: no I/O, no clock. Admission is by k6 series (metric + tags) in the order they
    first appear, so the series already on a dashboard keep being sent once the cap is hit.
    """

    def __init__(self, cfg: PrometheusConfig, test_id: str) -> None:
        self.cfg = cfg
        self.test_id = test_id
        self._names: dict[tuple[str, Tags], tuple[list[Labels], int]] = {}
        self.series = 0
        self.refused: set[tuple[str, Tags]] = set()
        self.refused_labels: collections.Counter[str] = collections.Counter()

    def _admit(self, metric: str, tags: Tags, kind: MetricType) -> list[Labels] | None:
        key = (metric, tags)
        hit = self._names.get(key)
        if hit is not None:
            return hit[0]
        if key in self.refused:
            return None
        names = prom_names(metric, kind, self.cfg.trend_stats)
        if self.series + len(names) > self.cfg.max_series:
            self.refused.add(key)
            for k, _ in tags:
                self.refused_labels[k] += 1
            return None
        base = series_labels(tags, self.test_id, self.cfg.labels)
        labelled = [with_name(base, n) for n in names]
        self._names[key] = (labelled, len(names))
        self.series += len(names)
        return labelled

    def map_store(self, store: MetricStore) -> list[Point]:
        """One point per admitted Prometheus series, for every non-empty k6 series."""
        out: list[Point] = []
        defs = store.defs
        for (metric, tags), sink in store.series.items():
            d = defs.get(metric)
            if d is None or sink.empty():
                continue
            labelled = self._admit(metric, tags, d.type)
            if labelled is None:
                continue
            values = sink_values(sink, d.contains, self.cfg.trend_stats)
            out.extend(zip(labelled, values, strict=True))
        return out

    def own(self, name: str, value: float, **labels: str) -> Point:
        """One of veza-ray's own series (k6_veza_ray_*): bounded by config, never capped."""
        assert name in OWN_SERIES, name
        base = dict(labels)
        base.setdefault("testid", self.test_id)
        for k, v in self.cfg.labels:
            base.setdefault(k, v)
        return with_name(tuple(sorted(base.items())), OWN_PREFIX + name), value


def run_points(mapper: SeriesMapper, store: MetricStore, run: MergedRun) -> list[Point]:
    """veza-ray's own series from the merged run: per-scenario VUs and merged p95/p99 of
    http_req_duration, and generator health per actor (docs/prometheus.md)."""
    from veza_ray.core.merge import CPU_LIMIT, LAG_P99_LIMIT_MS

    out: list[Point] = []
    by_sc = run.stats_by_scenario()
    for sc in run.options.scenarios:
        st = by_sc.get(sc.name, {})
        out.append(mapper.own("scenario_vus", float(st.get("active", 0)), scenario=sc.name))
        sink = store.aggregate("http_req_duration", (("scenario", sc.name),))
        if isinstance(sink, TrendSink) and not sink.empty():
            d = sink.digest
            for q, stat in ((0.95, "p95"), (0.99, "p99")):
                out.append(
                    mapper.own(
                        f"scenario_http_req_duration_{stat}",
                        d.quantile(q) / 1000.0,
                        scenario=sc.name,
                    )
                )
    for actor, lags in run.lag.items():
        if actor in run.lost or not lags:
            continue
        info = run.infos.get(actor, {})
        labels = {"actor": str(actor), "node": str(info.get("address", ""))}
        cpus = run.cpu.get(actor, [])
        lag, cpu = lags[-1], (cpus[-1] if cpus else 0.0)
        out.append(mapper.own("generator_loop_lag_p99_seconds", lag / 1000.0, **labels))
        out.append(mapper.own("generator_cpu_ratio", cpu, **labels))
        saturated = lag > LAG_P99_LIMIT_MS or cpu > CPU_LIMIT
        out.append(mapper.own("generator_saturated", 1.0 if saturated else 0.0, **labels))
    out.append(mapper.own("actors_lost", float(len(run.lost))))
    return out


def verdict_points(
    mapper: SeriesMapper, store: MetricStore, verdicts: Sequence[Verdict]
) -> list[Point]:
    """Each threshold as the gate judges it now: observed, bound and ok (1/0); a time
    metric's latency values in seconds like the k6_* series, so both plot on one axis."""
    out: list[Point] = []
    for v in verdicts:
        th = v.threshold
        cond = th.condition
        d = store.defs.get(th.selector.metric)
        contains = d.contains if d is not None else ValueType.DEFAULT
        if cond.aggregation == "count" or th.metric_type is not MetricType.TREND:
            contains = ValueType.DEFAULT
        labels = {"threshold": th.selector.source, "condition": cond.source}
        out.append(mapper.own("threshold_bound", unit_value(contains, cond.bound), **labels))
        out.append(mapper.own("threshold_ok", 1.0 if v.ok else 0.0, **labels))
        if v.observed is not None and math.isfinite(v.observed):
            out.append(mapper.own("threshold_observed", unit_value(contains, v.observed), **labels))
    return out


def _write_request_class() -> Any:
    """The remote-write WriteRequest message class, built from a descriptor at run time
    (no protoc step): the fields of prometheus/prometheus prompb/remote.proto and
    types.proto that a sender of float samples fills."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="veza_ray/prometheus_remote_write.proto", package="prometheus", syntax="proto3"
    )
    shapes: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
        (
            "Label",
            [
                ("name", 1, f.TYPE_STRING, f.LABEL_OPTIONAL, ""),
                ("value", 2, f.TYPE_STRING, f.LABEL_OPTIONAL, ""),
            ],
        ),
        (
            "Sample",
            [
                ("value", 1, f.TYPE_DOUBLE, f.LABEL_OPTIONAL, ""),
                ("timestamp", 2, f.TYPE_INT64, f.LABEL_OPTIONAL, ""),
            ],
        ),
        (
            "TimeSeries",
            [
                ("labels", 1, f.TYPE_MESSAGE, f.LABEL_REPEATED, ".prometheus.Label"),
                ("samples", 2, f.TYPE_MESSAGE, f.LABEL_REPEATED, ".prometheus.Sample"),
            ],
        ),
        (
            "WriteRequest",
            [("timeseries", 1, f.TYPE_MESSAGE, f.LABEL_REPEATED, ".prometheus.TimeSeries")],
        ),
    ]
    for name, fields in shapes:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            fd = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                fd.type_name = type_name
    pool = descriptor_pool.DescriptorPool()  # our own: no clash with another prometheus.*
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


_WRITE_REQUEST: Any = None


def write_request_class() -> Any:
    global _WRITE_REQUEST
    if _WRITE_REQUEST is None:
        _WRITE_REQUEST = _write_request_class()
    return _WRITE_REQUEST


def shown(points: Sequence[Point], redact: Callable[[str], str]) -> list[Point]:
    """The points as they may leave this process: every label value redacted with the
    book as it is now (a secret learned late hides text made before it). Two series that
    differ only by a secret would show alike, and one write request must not carry the
    same labels twice: the first is kept."""
    out: list[Point] = []
    seen: set[Labels] = set()
    for labels, value in points:
        safe = tuple((name, redact(val)) for name, val in labels)
        if safe not in seen:
            seen.add(safe)
            out.append((safe, value))
    return out


def encode(points: Sequence[Point], ts_ms: int) -> bytes:
    """A snappy-compressed (block format) protobuf WriteRequest, as the spec asks."""
    import cramjam

    req = write_request_class()()
    for labels, value in points:
        ts = req.timeseries.add()
        for name, val in labels:
            ts.labels.add(name=name, value=val)
        ts.samples.add(value=value, timestamp=ts_ms)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def decode(body: bytes) -> list[tuple[Labels, list[tuple[float, int]]]]:
    """``encode`` read back (for tests and tools): labels and (value, timestamp) pairs."""
    import cramjam

    req = write_request_class().FromString(bytes(cramjam.snappy.decompress_raw(body)))
    return [
        (
            tuple((lb.name, lb.value) for lb in ts.labels),
            [(s.value, s.timestamp) for s in ts.samples],
        )
        for ts in req.timeseries
    ]


@dataclass
class _Batch:
    points: list[Point]
    ts_ms: int
    attempts: int = 0


@dataclass
class SendStats:
    sent_batches: int = 0
    failed_batches: int = 0
    skipped_batches: int = 0
    dropped_samples: int = 0
    retries: int = 0
    last_error: str = ""


class Sender:
    """Posts batches from a background thread; the caller never waits.

    Values are cumulative, so only the newest batch matters: older ones still waiting are
    skipped (and counted). A failing endpoint is retried with exponential backoff; 4xx
    other than 429 is not retried (the spec: the data is bad, retrying cannot help).
    """

    def __init__(
        self,
        url: str,
        headers: Sequence[tuple[str, str]],
        log: Callable[[str], None],
        timeout: float = REQUEST_TIMEOUT_S,
        shown_url: str = "",
    ) -> None:
        self.url = url
        self.shown_url = shown_url or url
        self.headers = dict(headers)
        self.log = log
        self.timeout = timeout
        self.stats = SendStats()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: collections.deque[_Batch] = collections.deque()
        self._current: _Batch | None = None
        self._closing = False
        self._deadline = math.inf
        self._books_closed = False
        self._warned = False
        # No proxy: the URL passed the host guard; a proxy would send elsewhere.
        self._opener = WatchedOpener()
        self._thread = threading.Thread(target=self._loop, name="veza-ray-prometheus", daemon=True)
        self._thread.start()

    def submit(self, points: list[Point], ts_ms: int, supersede: bool = True) -> None:
        """Queue a batch and return at once; it replaces any batch still waiting unless
        ``supersede`` is False (the stale markers must follow the last values)."""
        with self._wake:
            if self._closing:
                return
            if supersede:
                while self._waiting:
                    self._give_up(self._waiting.popleft(), "")
            self._waiting.append(_Batch(points, ts_ms))
            self._wake.notify()

    def close(self, wait: float) -> SendStats:
        """Let the newest batch go out within ``wait`` seconds, then count what did not."""
        with self._wake:
            self._closing = True
            self._deadline = time.monotonic() + wait
            self._wake.notify()
        self._thread.join(wait + 0.1)
        with self._wake:
            # The endpoint's own error, when there was one, says more than "ran out of time".
            late = "" if self.stats.last_error else "not delivered when the run ended"
            if self._current is not None:
                self._give_up(self._current, late)
                self._current = None
            while self._waiting:
                self._give_up(self._waiting.popleft(), late)
            self._books_closed = True
            return SendStats(**vars(self.stats))

    def _give_up(self, batch: _Batch, why: str) -> None:
        """Count a batch that will not be delivered (lock held)."""
        if self._books_closed:
            return
        if batch.attempts:
            self.stats.failed_batches += 1
        else:
            self.stats.skipped_batches += 1
        self.stats.dropped_samples += len(batch.points)
        if why:
            self.stats.last_error = why

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            with self._wake:
                while not self._waiting and self._current is None and not self._closing:
                    self._wake.wait()
                if self._waiting:
                    if self._current is not None:  # a newer one supersedes a failing one
                        self._give_up(self._current, "")
                    self._current = self._waiting.popleft()
                batch = self._current
                if batch is None or (self._closing and time.monotonic() >= self._deadline):
                    return
                if batch.attempts:
                    self.stats.retries += 1
                batch.attempts += 1
            error, retry = self._send(batch)
            with self._wake:
                if self._current is not batch:  # close() counted it already
                    return
                if not error:
                    self.stats.sent_batches += 1
                    self._current = None
                    backoff = 0.0
                    continue
                self.stats.last_error = error
                if not self._warned:
                    self._warned = True
                    self.log(f"prometheus output: could not push to {self.shown_url}: {error}")
                if not retry or batch.attempts >= MAX_ATTEMPTS:
                    self._give_up(batch, error)
                    self._current = None
                    if not retry:
                        continue
                backoff = min(BACKOFF_MAX_S, backoff * 2 or BACKOFF_FIRST_S)
                until = time.monotonic() + backoff
                if self._closing:
                    until = min(until, self._deadline)
                while not self._waiting and time.monotonic() < until:
                    self._wake.wait(until - time.monotonic())

    def _send(self, batch: _Batch) -> tuple[str, bool]:
        """Encode and post one batch: ("", False) when delivered, else (why, retryable)."""
        try:
            self._http_post(encode(batch.points, batch.ts_ms))
        except _SendError as exc:
            return str(exc), exc.retry
        except Exception as exc:  # never let the thread die silently
            return f"{type(exc).__name__}: {exc}", False
        return "", False

    def _http_post(self, body: bytes) -> None:
        req = urllib.request.Request(self.url, data=body, method="POST")
        for k, v in self.headers.items():
            req.add_header(k, v)
        req.add_header("Content-Encoding", "snappy")
        req.add_header("Content-Type", "application/x-protobuf")
        req.add_header("X-Prometheus-Remote-Write-Version", "0.1.0")
        req.add_header("User-Agent", "veza-ray-prometheus-rw-output")
        # One deadline for the whole exchange and a cap on the answer (readcap): an
        # endpoint that answers without end, or a byte a second, is a failed push, never
        # the driver's memory nor a sender stuck for ever.
        with Deadline(self.timeout) as watch:
            try:
                with self._opener.open(req, watch) as resp:
                    answer = read_capped(
                        resp.read1,
                        PUSH_ANSWER_CAP,
                        watch.at,
                        "the endpoint's answer",
                        socket_timeout_setter(resp),
                    )
                    watch.check("the endpoint's answer", len(answer))
            except ReadLimit as exc:
                raise _SendError(str(exc), retry=not exc.too_big) from exc
            except urllib.error.HTTPError as exc:
                # One receive of at most 200 bytes: an error page cannot hold the thread.
                head = b"" if watch.fired else getattr(exc, "read1", exc.read)(200)
                detail = head.decode("utf-8", "replace").strip()
                raise _SendError(
                    f"HTTP {exc.code} {detail}".strip(), retry=exc.code >= 500 or exc.code == 429
                ) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if watch.fired:
                    raise _SendError(
                        f"no complete answer within {self.timeout:g} s: given up", retry=True
                    ) from exc
                reason = getattr(exc, "reason", exc)
                raise _SendError(str(reason), retry=True) from exc


class _SendError(Exception):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class PrometheusOutput:
    """The output: ``start`` / ``interval`` (on the driver loop, cheap) / ``end``."""

    def __init__(
        self,
        cfg: PrometheusConfig,
        log: Callable[[str], None],
        flush_wait: float = FLUSH_WAIT_S,
        timeout: float = REQUEST_TIMEOUT_S,
        redact: Callable[[str], str] = SECRETS.redact,
    ) -> None:
        self.cfg = cfg
        self.redact = redact
        self.log = log
        self.flush_wait = flush_wait
        self.timeout = timeout
        self.test_id = ""
        self.mapper: SeriesMapper | None = None
        self.sender: Sender | None = None
        self._last: list[Point] = []
        self._last_ms = 0
        self._cap_warned = False
        self._map_errors = 0
        self._hidden = 0  # series that showed alike once redacted (the first was sent)

    def start(self, test_id: str) -> None:
        self.test_id = test_id
        self.mapper = SeriesMapper(self.cfg, test_id)
        self.sender = Sender(
            self.cfg.url, self.cfg.headers, self.log, self.timeout, self.cfg.shown_url
        )
        self.log(f"veza-ray: pushing merged series to {self.cfg.shown_url} (testid={test_id})")

    def interval(
        self,
        store: MetricStore,
        now: float,
        run: MergedRun | None = None,
        verdicts: Sequence[Verdict] = (),
    ) -> None:
        """Map the cumulative merged store (and, when given, the run's own health and the
        gate's verdicts) and hand the batch to the sender; never raises, never waits."""
        if self.mapper is None or self.sender is None:
            return
        try:
            points = self.mapper.map_store(store)
            if run is not None:
                points.extend(run_points(self.mapper, store, run))
            points.extend(verdict_points(self.mapper, store, verdicts))
        except Exception as exc:  # a mapping bug must not stop the test
            self._map_errors += 1
            if self._map_errors == 1:
                self.log(f"prometheus output: could not map the series: {exc}")
            return
        if self.mapper.refused and not self._cap_warned:
            self._cap_warned = True
            worst = self.mapper.refused_labels.most_common(1)
            hint = f" (most refused series carry the tag {worst[0][0]!r})" if worst else ""
            self.log(
                f"warning: prometheus output: more than {self.cfg.max_series} series{hint}; "
                "the new ones are not sent. Group URLs with ids under one `name` tag "
                "(k6's URL grouping) or raise VEZA_RAY_PROMETHEUS_MAX_SERIES"
            )
        ts_ms = max(int(now * 1000), self._last_ms + 1)
        safe = shown(points, self.redact)  # the push is an output like the others
        self._hidden = max(self._hidden, len(points) - len(safe))
        points = safe
        self._last, self._last_ms = points, ts_ms
        self.sender.submit(points, ts_ms)

    def end(self, now: float) -> dict[str, Any]:
        """Send the stale markers if asked, wait for the last batch (bounded), stop the
        thread and return the counters for the summary."""
        if self.mapper is None or self.sender is None:
            return {}
        if self.cfg.stale_markers and self._last:
            # k6: the markers go 1 ms after the last flush, so they are never a duplicate.
            stale = [(labels, STALE_NAN) for labels, _ in self._last]
            self.sender.submit(stale, self._last_ms + 1, supersede=False)
        stats = self.sender.close(self.flush_wait)
        out: dict[str, Any] = {
            "url": self.cfg.shown_url,
            "testid": self.test_id,
            "trend_stats": list(self.cfg.trend_stats),
            "sent_batches": stats.sent_batches,
            "failed_batches": stats.failed_batches,
            "skipped_batches": stats.skipped_batches,
            "dropped_samples": stats.dropped_samples,
            "retries": stats.retries,
            "series": self.mapper.series,
            "max_series": self.cfg.max_series,
            "capped": len(self.mapper.refused),
        }
        if stats.last_error:
            out["last_error"] = stats.last_error
        if self._hidden:
            out["series_alike_when_redacted"] = self._hidden
        if stats.failed_batches or stats.skipped_batches:
            self.log(
                f"prometheus output: {stats.sent_batches} batch(es) sent, "
                f"{stats.failed_batches} failed, {stats.skipped_batches} superseded or unsent "
                f"({stats.dropped_samples} samples not delivered)"
                + (f"; last error: {stats.last_error}" if stats.last_error else "")
            )
        return out


def from_config(
    url: str, env: Mapping[str, str], allowed: frozenset[str], log: Callable[[str], None]
) -> PrometheusOutput:
    """The output for ``-o prometheus=URL`` (raises PrometheusConfigError)."""
    return PrometheusOutput(parse_config(url, env, allowed), log)


class PrometheusPush:
    """``PrometheusOutput`` behind the driver's output protocol (``outputs.base``)."""

    name = "prometheus"

    def __init__(self, output: PrometheusOutput) -> None:
        self.output = output

    @classmethod
    def for_run(cls, target: str, ctx: OutputContext) -> PrometheusPush:
        """``-o prometheus=URL`` (checked by the driver's prepare before the run)."""
        return cls(from_config(target, ctx.env, ctx.allowed_hosts, ctx.log))

    def start(self, run: RunStart) -> None:
        self.output.start(default_test_id(run.tags, run.script_path, run.start_epoch))

    def interval(self, iv: Interval) -> None:
        self.output.interval(iv.run.total, iv.now, iv.run, iv.verdicts)

    def end(self) -> OutputEnd:
        pushed = self.output.end(time.time())
        lost = []
        if pushed.get("failed_batches") or pushed.get("dropped_samples"):
            lost.append(
                f"--out prometheus: {pushed.get('failed_batches', 0)} batch(es) not accepted, "
                f"{pushed.get('dropped_samples', 0)} sample(s) dropped"
                + (f" ({pushed['last_error']})" if pushed.get("last_error") else "")
            )
        return OutputEnd(self.name, pushed, lost=lost)
