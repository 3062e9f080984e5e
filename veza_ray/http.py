"""The VU's HTTP client: aiohttp with k6's timings, tags, failure rule and error codes.

Cost matters here (see DESIGN.md): no per-request TraceConfig callbacks. Phases come from
a few timestamps: the connector records when a connection is waited for and when one is
actually opened; the request class records when the body has been written; the rest is
the time to the response headers and to the end of the body. Discarded bodies are read
in chunks and only counted, never joined into one bytes object.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from http.cookies import CookieError, SimpleCookie
from time import perf_counter
from typing import Any

import aiohttp
import orjson
from aiohttp.client_reqrep import ClientRequest
from yarl import URL

from veza_ray.guards import SECRETS, host_refusal
from veza_ray.h1 import H1Error, build_head
from veza_ray.h1client import ConnectFailed, H1Pool, Key
from veza_ray.metric_types import Tags
from veza_ray.netguard import GuardedResolver, HostRefused

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_USER_AGENT = "veza-ray/0.1 (+k6-compatible)"
# VEZA_RAY_HTTP_CLIENT: the lean keep-alive client (default) or aiohttp for everything.
HTTP_CLIENTS = ("lean", "aiohttp")
MAX_REDIRECTS = 10  # k6's default maxRedirects
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _Phase:
    """Timestamps of one request, filled in by the connector and the request class."""

    __slots__ = ("acquired", "asked", "connecting", "sent")

    def __init__(self) -> None:
        self.asked = 0.0
        self.acquired = 0.0
        self.connecting = 0.0
        self.sent = 0.0


_phase: ContextVar[_Phase | None] = ContextVar("veza_ray_http_phase", default=None)


class TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that notes when a connection is ready and how long opening it took,
    and asks the host guard about every request, redirect hops included: by name here
    (IP literals never reach a resolver), by address in its ``GuardedResolver``."""

    guard: HostGuard | None = None

    async def connect(self, req: ClientRequest, traces: Any, timeout: Any) -> Any:
        if self.guard is not None:
            refusal = self.guard.refusal(str(req.url))
            if refusal:
                raise HostRefused(refusal)
        ph = _phase.get()
        if ph is not None:
            ph.asked = perf_counter()
        conn = await super().connect(req, traces, timeout)
        if ph is not None:
            ph.acquired = perf_counter()
        return conn

    async def _create_connection(self, req: ClientRequest, traces: Any, timeout: Any) -> Any:
        t0 = perf_counter()
        try:
            return await super()._create_connection(req, traces, timeout)
        finally:
            ph = _phase.get()
            if ph is not None:
                ph.connecting = perf_counter() - t0


class TimedRequest(ClientRequest):
    """Notes when the request body has been handed to the socket (k6's end of 'sending')."""

    async def write_bytes(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().write_bytes(*args, **kwargs)
        finally:
            ph = _phase.get()
            if ph is not None:
                ph.sent = perf_counter()


class Timings:
    """k6's per-phase timings of one request, in milliseconds."""

    __slots__ = (
        "blocked",
        "connecting",
        "duration",
        "receiving",
        "sending",
        "tls_handshaking",
        "waiting",
    )

    def __init__(
        self,
        blocked: float = 0.0,
        connecting: float = 0.0,
        tls_handshaking: float = 0.0,
        sending: float = 0.0,
        waiting: float = 0.0,
        receiving: float = 0.0,
    ) -> None:
        self.blocked = blocked
        self.connecting = connecting
        self.tls_handshaking = tls_handshaking
        self.sending = sending
        self.waiting = waiting
        self.receiving = receiving
        self.duration = sending + waiting + receiving

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__slots__}


class Response:
    """What a request returns: status 0 and ``error`` set when there was no response."""

    __slots__ = (
        "_headers",
        "_raw_headers",
        "body",
        "error",
        "error_code",
        "method",
        "status",
        "timings",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        timings: Timings,
        error: str = "",
        error_code: int = 0,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        # Built into k6's form on first read: most scripts never look at the headers.
        self._raw_headers = headers
        self._headers: dict[str, str] | None = None
        self.body = body
        self.timings = timings
        self.error = error
        self.error_code = error_code

    @property
    def headers(self) -> dict[str, str]:
        """k6's ``res.headers``: canonical names, repeated values joined (``k6_headers``)."""
        if self._headers is None:
            self._headers = k6_headers(self._raw_headers)
            self._raw_headers = ()
        return self._headers

    def json(self) -> Any:
        if self.body is None:
            raise ValueError(
                f"the body of {self.method} {self.url} was discarded; "
                "pass response_body=True to keep it"
            )
        return orjson.loads(self.body)

    @property
    def text(self) -> str | None:
        return None if self.body is None else self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.url} {self.status}>"


def classify_error(exc: BaseException) -> tuple[int, str]:
    """k6's error code and a short message for an exception that left no response."""
    if isinstance(exc, asyncio.TimeoutError):
        return 1050, "request timeout"
    if isinstance(exc, HostRefused):
        return 1111, str(exc)
    if isinstance(exc, ConnectFailed):
        return _dial_error(exc.host, exc.port, exc.cause)
    if isinstance(exc, H1Error):
        return 1000, f"malformed HTTP response: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return 1020, f"invalid URL: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc, aiohttp.ClientSSLError):
            return 1300, f"tls error: {exc.os_error}"
        return _dial_error(exc.host, exc.port, exc.os_error)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return 1220, "read: connection reset by peer"
    if isinstance(exc, aiohttp.ClientOSError):
        if exc.errno == errno.EPIPE:
            return 1201, "write: broken pipe"
        if exc.errno == errno.ECONNRESET:
            return 1220, "read: connection reset by peer"
        return 1200, f"tcp error: {exc}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return 1000, f"malformed response body: {exc}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return 1000, f"malformed HTTP response: {exc.message}"
    return 1000, f"{type(exc).__name__}: {exc}"


def _dial_error(host: str, port: int | None, os_err: BaseException) -> tuple[int, str]:
    """k6's codes for a connection that could not be opened."""
    if isinstance(os_err, socket.gaierror):
        return 1101, f"lookup {host}: no such host"
    if isinstance(os_err, ssl.SSLError):
        return 1300, f"tls error: {os_err}"
    if isinstance(os_err, ConnectionRefusedError) or (
        isinstance(os_err, OSError) and os_err.errno == errno.ECONNREFUSED
    ):
        return 1212, f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(os_err, TimeoutError):
        return 1211, f"dial tcp {host}:{port}: i/o timeout"
    reason = os_err.strerror if isinstance(os_err, OSError) and os_err.strerror else os_err
    return 1210, f"dial tcp {host}:{port}: {reason}"


def k6_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Response headers as k6 gives them: names in Go's canonical form (``content-type``
    becomes ``Content-Type``), repeated headers joined with ", "."""
    out: dict[str, str] = {}
    for name, value in pairs:
        key = _CANON.get(name)
        if key is None:
            key = "-".join(w[:1].upper() + w[1:].lower() for w in name.split("-"))
            if len(_CANON) < 1000:
                _CANON[name] = key
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


_CANON: dict[str, str] = {}


def is_expected(status: int, expected: Collection[int] | Callable[[int], bool] | None) -> bool:
    """k6's default expected statuses are 200-399; a collection or predicate overrides them."""
    if status == 0:
        return False
    if expected is None:
        return 200 <= status < 400
    if callable(expected):
        return bool(expected(status))
    return status in expected


def expected_statuses(*items: int | range | tuple[int, int]) -> frozenset[int]:
    """k6's ``http.expectedStatuses``: ints, ranges, or (min, max) pairs inclusive."""
    out: set[int] = set()
    for item in items:
        if isinstance(item, int):
            out.add(item)
        elif isinstance(item, range):
            out.update(item)
        else:
            lo, hi = item
            out.update(range(lo, hi + 1))
    return frozenset(out)


def new_connector(
    no_reuse: bool = False, insecure: bool = False, guard: HostGuard | None = None
) -> TimedConnector:
    """One pool per actor; VUs keep their own cookies but share keep-alive connections."""
    guard = guard or HostGuard(frozenset())
    conn = TimedConnector(
        limit=0,
        force_close=no_reuse,
        ssl=not insecure,
        ttl_dns_cache=300,
        resolver=GuardedResolver(guard.allowed),
    )
    conn.guard = guard
    return conn


def new_session(
    connector: aiohttp.BaseConnector,
    user_agent: str | None,
    cookie_jar: aiohttp.abc.AbstractCookieJar | None = None,
) -> aiohttp.ClientSession:
    headers = {"User-Agent": user_agent or DEFAULT_USER_AGENT}
    return aiohttp.ClientSession(
        connector=connector,
        connector_owner=False,
        request_class=TimedRequest,
        headers=headers,
        auto_decompress=True,
        skip_auto_headers=("Accept-Encoding",),
        cookie_jar=cookie_jar,
        trust_env=False,  # never a proxy from http_proxy & co: it would bypass the guard
    )


class ClientHub:
    """What one runner's VUs share: the lean keep-alive pool, and aiohttp's connector and
    sessions for the requests the lean path leaves to it (``Accept-Encoding``, odd URLs),
    built only when first needed. ``lean=False`` sends everything through aiohttp (the
    ``VEZA_RAY_HTTP_CLIENT=aiohttp`` escape hatch)."""

    def __init__(
        self,
        no_reuse: bool = False,
        insecure: bool = False,
        user_agent: str | None = None,
        lean: bool = True,
        guard: HostGuard | None = None,
    ) -> None:
        allowed = guard.allowed if guard is not None else frozenset()
        self.pool = H1Pool(no_reuse, insecure, allowed) if lean else None
        self._guard = guard
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self._no_reuse = no_reuse
        self._insecure = insecure
        self._connector: TimedConnector | None = None
        self._sessions: list[aiohttp.ClientSession] = []

    def session(self, jar: aiohttp.abc.AbstractCookieJar) -> aiohttp.ClientSession:
        if self._connector is None:
            self._connector = new_connector(self._no_reuse, self._insecure, self._guard)
        sess = new_session(self._connector, self.user_agent, jar)
        self._sessions.append(sess)
        return sess

    async def close(self) -> None:
        for sess in self._sessions:
            await sess.close()
        self._sessions.clear()
        if self._connector is not None:
            await self._connector.close()
            self._connector = None
        if self.pool is not None:
            await self.pool.close()


Expected = Collection[int] | Callable[[int], bool] | None


class _Call:
    """One request as the caller asked for it, handed to whichever path serves it."""

    __slots__ = ("body", "expected", "hdrs", "keep", "method", "params", "seconds", "tags", "url")

    def __init__(
        self,
        method: str,
        url: str,
        hdrs: dict[str, str] | None,
        body: Any,
        params: Mapping[str, str | int | float] | None,
        tags: Mapping[str, str] | None,
        seconds: float,
        expected: Expected,
        keep: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.hdrs = hdrs
        self.body = body
        self.params = params
        self.tags = tags
        self.seconds = seconds
        self.expected = expected
        self.keep = keep


RecordFn = Callable[[str, str, int, bool, int, Tags, Timings, int, int], None]


class HttpClient:
    """``vu.http``: k6's http module as coroutines; every request records k6's metrics.

    One per VU: its own cookie jar (k6's per-VU jar), the runner's shared connections.
    """

    __slots__ = ("_discard", "_guard", "_hub", "_jar", "_record", "_session", "_timeout")

    def __init__(
        self,
        hub: ClientHub,
        record: RecordFn,
        discard_bodies: bool,
        timeout: float = DEFAULT_TIMEOUT_S,
        guard: HostGuard | None = None,
    ) -> None:
        self._hub = hub
        self._record = record
        self._discard = discard_bodies
        self._timeout = timeout
        self._guard = guard
        self._jar: aiohttp.CookieJar | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def cookie_jar(self) -> aiohttp.CookieJar:
        """The VU's cookies (k6 keeps one jar per VU). IP hosts are allowed, as in k6."""
        if self._jar is None:
            self._jar = aiohttp.CookieJar(unsafe=True)
        return self._jar

    async def get(self, url: str, **kw: Any) -> Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> Response:
        return await self.request("PUT", url, **kw)

    async def patch(self, url: str, **kw: Any) -> Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> Response:
        return await self.request("DELETE", url, **kw)

    async def head(self, url: str, **kw: Any) -> Response:
        return await self.request("HEAD", url, **kw)

    async def options(self, url: str, **kw: Any) -> Response:
        return await self.request("OPTIONS", url, **kw)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | bytearray | memoryview | str | None = None,
        params: Mapping[str, str | int | float] | None = None,
        tags: Mapping[str, str] | None = None,
        timeout: float | None = None,
        expected_statuses: Collection[int] | Callable[[int], bool] | None = None,
        response_body: bool | None = None,
    ) -> Response:
        """Send one request; never raises for network trouble (status 0 and ``error`` instead)."""
        method = method.upper()
        if self._guard is not None:
            refusal = self._guard.refusal(url)
            if refusal:
                return self._refused(method, url, tags, refusal)
        body: Any = data
        hdrs: dict[str, str] | None = dict(headers) if headers else None
        if hdrs:
            SECRETS.learn_headers(hdrs.items())  # so this actor's messages never show them
        if json is not None:
            body = orjson.dumps(json)
            hdrs = hdrs or {}
            if not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
        keep = (not self._discard) if response_body is None else response_body
        seconds = timeout or self._timeout
        call = _Call(method, url, hdrs, body, params, tags, seconds, expected_statuses, keep)
        if self._hub.pool is not None and _lean_ok(url, hdrs, body):
            return await self._lean(call)
        return await self._aiohttp(call)

    async def _lean(self, c: _Call) -> Response:
        """The keep-alive fast path; follows redirects itself, one k6 sample per hop."""
        method, url, hdrs, body, params = c.method, c.url, c.hdrs, c.body, c.params
        tags, seconds, expected, keep = c.tags, c.seconds, c.expected, c.keep
        pool = self._hub.pool
        assert pool is not None
        payload = _body_bytes(body)
        hops = 0
        while True:
            try:
                target = _target(url, params)
            except ValueError as exc:
                return self._failed(method, url, tags, 1020, f"invalid URL: {exc}")
            try:
                head = self._head(method, target, hdrs, body, payload)
            except ValueError as exc:  # a line break in a header: never sent
                return self._failed(method, url, tags, 1000, f"invalid request header: {exc}")
            status, kept, received = 0, None, 0
            resp_headers: Iterable[tuple[str, str]] = ()
            err, code = "", 0
            loc = ""
            try:
                ex, t = await pool.exchange(target.key, method, head, payload, keep, seconds)
            except Exception as exc:
                code, err = classify_error(exc)
                timings = Timings()
            else:
                rh = ex.head
                status = rh.status
                received = ex.received
                resp_headers = rh
                if keep:
                    kept = ex.body
                cookies = rh.values("set-cookie")
                if cookies:
                    self._store_cookies(cookies, target.url)
                if status in _REDIRECTS and hops < MAX_REDIRECTS:
                    loc = next(iter(rh.values("location")), "")
                timings = Timings(
                    blocked=max(0.0, t.started - t.asked) * 1000.0,
                    connecting=t.connecting * 1000.0,
                    tls_handshaking=t.secured * 1000.0,
                    sending=max(0.0, t.sent - t.connected) * 1000.0,
                    waiting=max(0.0, ex.t_first - t.sent) * 1000.0,
                    receiving=max(0.0, ex.t_end - ex.t_first) * 1000.0,
                )
            ok = is_expected(status, expected) and not err
            name, extra = _name_and_extra(url, tags)
            sent = len(head) + len(payload or b"")
            self._record(method, name, status, ok, code, extra, timings, sent, received)
            if not loc:
                return Response(method, url, status, resp_headers, kept, timings, err, code)
            # Follow as Go's client (k6) does: 303, and 301/302 after a POST, become a GET.
            nxt = target.url.join(URL(loc))
            url = str(nxt)
            params = None
            hops += 1
            if status == 303 or (status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                body, payload = None, None
                if hdrs:
                    hdrs = {k: v for k, v in hdrs.items() if k.lower() != "content-type"}
            if hdrs and nxt.host != target.key[1]:
                # Credentials are for the host they were given to (Go's rule, so k6's).
                hdrs = {k: v for k, v in hdrs.items() if k.lower() not in _CREDENTIALS}
            if self._guard is not None:
                refusal = self._guard.refusal(url)
                if refusal:
                    return self._refused(method, url, tags, refusal)

    def _head(
        self,
        method: str,
        target: _Target,
        hdrs: dict[str, str] | None,
        body: Any,
        payload: bytes | None,
    ) -> bytes:
        """The request head; the fixed part is built once per (method, URL, headers)."""
        ua = self._hub.user_agent
        kind = 0 if payload is None else (1 if isinstance(body, str) else 2)
        key = (method, target.path, target.host, ua, kind, tuple(hdrs.items()) if hdrs else None)
        fixed = _HEADS.get(key)
        if fixed is None:
            merged: dict[str, tuple[str, str]] = {
                "host": ("Host", target.host),
                "user-agent": ("User-Agent", ua),
                "accept": ("Accept", "*/*"),
            }
            if hdrs:
                for k, v in hdrs.items():
                    merged[k.lower()] = (k, v)
            if kind and "content-type" not in merged:
                ctype = "text/plain; charset=utf-8" if kind == 1 else "application/octet-stream"
                merged["content-type"] = ("Content-Type", ctype)
            fixed = build_head(method, target.path, merged.values())[:-2]
            if len(_HEADS) < 10_000:
                _HEADS[key] = fixed
        extra = b""
        if payload is not None or method in ("POST", "PUT", "PATCH"):
            extra = b"Content-Length: %d\r\n" % len(payload or b"")
        if self._jar is not None and len(self._jar):
            cookies = self._jar.filter_cookies(target.url)
            if cookies:
                line = "; ".join(f"{m.key}={m.coded_value}" for m in cookies.values())
                extra += f"Cookie: {line}\r\n".encode()
        return fixed + extra + b"\r\n"

    def _store_cookies(self, values: list[str], url: URL) -> None:
        jar = self.cookie_jar
        SECRETS.learn_headers(("Set-Cookie", v) for v in values)
        for v in values:
            c: SimpleCookie = SimpleCookie()
            try:
                c.load(v)
            except CookieError:
                continue
            jar.update_cookies(c, url)

    async def _aiohttp(self, c: _Call) -> Response:
        """aiohttp's path: for what the lean path leaves aside; phases from timestamps."""
        method, url, hdrs, body, tags, keep = c.method, c.url, c.hdrs, c.body, c.tags, c.keep
        if self._session is None:
            self._session = self._hub.session(self.cookie_jar)
        ph = _Phase()
        token = _phase.set(ph)
        status, kept = 0, None
        resp_headers: Iterable[tuple[str, str]] = ()
        err, code, received = "", 0, 0
        t0 = perf_counter()
        t_head = t_end = t0
        try:
            async with self._session.request(
                method,
                url,
                headers=hdrs,
                data=body,
                params=c.params,
                timeout=_client_timeout(c.seconds),
            ) as resp:
                t_head = perf_counter()
                status = resp.status
                resp_headers = resp.headers.items()
                if "Set-Cookie" in resp.headers:
                    SECRETS.learn_headers(
                        ("Set-Cookie", v) for v in resp.headers.getall("Set-Cookie")
                    )
                if keep:
                    kept = await resp.read()
                    received = len(kept)
                else:
                    # Discarded: drained chunk by chunk and counted on the wire, never joined.
                    content = resp.content
                    while not content.at_eof():
                        await content.readany()
                    received = content.total_raw_bytes
                t_end = perf_counter()
                head = 17
                for k, v in resp.raw_headers:
                    head += len(k) + len(v) + 4
                received += head
        except Exception as exc:
            now = perf_counter()
            if status:
                # Headers came, the body did not: k6 reports the status it got and an error.
                t_end = now
            else:
                t_head = t_end = now
            code, err = classify_error(exc)
        finally:
            _phase.reset(token)
        # k6's "blocked" is the wait for a connection slot, measured from when the client
        # asks the pool; the client's own request preparation before that is not blocking.
        start = ph.acquired or t0
        blocked = max(0.0, (start - (ph.asked or t0)) - ph.connecting)
        sent_at = ph.sent if ph.sent and ph.sent <= t_head else start
        timings = Timings(
            blocked=blocked * 1000.0,
            connecting=ph.connecting * 1000.0,
            sending=max(0.0, sent_at - start) * 1000.0,
            waiting=max(0.0, t_head - sent_at) * 1000.0,
            receiving=max(0.0, t_end - t_head) * 1000.0,
        )
        ok = is_expected(status, c.expected) and not err
        name, extra = _name_and_extra(url, tags)
        sent_bytes = len(method) + len(url) + 12 + _body_len(body)
        if hdrs:
            sent_bytes += sum(len(k) + len(v) + 4 for k, v in hdrs.items())
        self._record(method, name, status, ok, code, extra, timings, sent_bytes, received)
        return Response(method, url, status, resp_headers, kept, timings, err, code)

    def _failed(
        self, method: str, url: str, tags: Mapping[str, str] | None, code: int, why: str
    ) -> Response:
        timings = Timings()
        name, extra = _name_and_extra(url, tags)
        self._record(method, name, 0, False, code, extra, timings, 0, 0)
        return Response(method, url, 0, (), None, timings, why, code)

    def _refused(self, method: str, url: str, tags: Mapping[str, str] | None, why: str) -> Response:
        """A blocked host: nothing is sent; counted as a failed request, k6's code 1111."""
        return self._failed(method, url, tags, 1111, why.replace("BASE_URL", "URL"))


class HostGuard:
    """Refuses requests to hosts that are neither loopback nor allowed (k6's blockHostnames).

    Verdicts are cached per scheme://authority prefix so the hot path pays one dict lookup.
    """

    __slots__ = ("_cache", "allowed")

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self._cache: dict[str, str | None] = {}

    def refusal(self, url: str) -> str | None:
        end = url.find("/", url.find("//") + 2)
        prefix = url if end < 0 else url[:end]
        try:
            return self._cache[prefix]
        except KeyError:
            verdict = host_refusal(prefix + "/", self.allowed)
            self._cache[prefix] = verdict
            return verdict


_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}
_HEADS: dict[tuple[str, str, str, str, int, tuple[tuple[str, str], ...] | None], bytes] = {}
_TARGETS: dict[str, _Target] = {}
# Requests with these headers go through aiohttp, which implements what they ask for.
_AIOHTTP_HEADERS = frozenset({"accept-encoding", "expect", "transfer-encoding", "upgrade"})


class _Target:
    """A URL as the lean path needs it: pool key, Host header, request target."""

    __slots__ = ("host", "key", "path", "url")

    def __init__(self, url: URL) -> None:
        scheme = url.scheme
        if scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{str(url)[:200]!r} is not an absolute http(s) URL")
        port = url.port or (443 if scheme == "https" else 80)
        self.url = url
        self.key: Key = (scheme, url.host, port)
        self.host = url.host_port_subcomponent or url.host
        self.path = url.raw_path_qs or "/"


def _target(url: str, params: Mapping[str, str | int | float] | None) -> _Target:
    """Parse (and cache, per URL string) what a request line needs; params are not cached."""
    if params:
        return _Target(URL(url).extend_query(params))
    hit = _TARGETS.get(url)
    if hit is None:
        hit = _Target(URL(url))
        if len(_TARGETS) < 10_000:
            _TARGETS[url] = hit
    return hit


_CREDENTIALS = frozenset({"authorization", "www-authenticate", "cookie", "cookie2"})


def _lean_ok(url: str, hdrs: Mapping[str, str] | None, body: Any) -> bool:
    """Whether the lean path serves this request; anything unusual goes to aiohttp."""
    if not url.startswith(("http://", "https://")):
        return False
    if body is not None and not isinstance(body, (bytes, bytearray, memoryview, str)):
        return False
    return not hdrs or not any(k.lower() in _AIOHTTP_HEADERS for k in hdrs)


def _body_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


_TAGSETS: dict[tuple[tuple[str, str], ...], tuple[str | None, Tags]] = {}


def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One ClientTimeout per distinct value, not one object per request (a pure memo)."""
    t = _TIMEOUTS.get(seconds)
    if t is None:
        t = _TIMEOUTS[seconds] = aiohttp.ClientTimeout(total=seconds)
    return t


def _name_and_extra(url: str, tags: Mapping[str, str] | None) -> tuple[str, Tags]:
    """The ``name`` tag (default: the URL, with its userinfo and secret query values as
    ***) and the other request tags, redacted and sorted once per distinct tags dict
    rather than on every request."""
    if not tags:
        return _NAMES.get(url) or _url_name(url), ()
    key = tuple(tags.items())
    hit = _TAGSETS.get(key)
    if hit is None:
        name = tags.get("name")
        hit = (
            SECRETS.redact(name) if name else None,
            tuple(sorted((k, SECRETS.redact(v)) for k, v in key if k != "name")),
        )
        if len(_TAGSETS) < 10_000:  # bounded: tags built from data must not grow it forever
            _TAGSETS[key] = hit
    return (hit[0] or _url_name(url)), hit[1]


_NAMES: dict[str, str] = {}


def _url_name(url: str) -> str:
    """A URL as a tag value: its secrets learned, then redacted (memoised per URL)."""
    name = _NAMES.get(url)
    if name is None:
        SECRETS.learn_url(url)
        name = SECRETS.redact(url)
        if len(_NAMES) < 10_000:
            _NAMES[url] = name
    return name


def _body_len(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode())
    if isinstance(body, (bytes, bytearray, memoryview)):
        return len(body)
    return 0
