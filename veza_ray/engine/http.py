"""The VU's HTTP client: k6's http module on the lean HTTP/1.1 client (``h1client``).

Here are k6's semantics on top of the wire: how a request is built (headers, bodies,
forms, multipart files, URL credentials), redirects as Go's client follows them, the
VU's cookie jar, decoded bodies, the failure rule, error codes and one sample per
request (each redirect hop is one). The pool, llhttp framing and timestamps are
``h1client``'s. Checked case by case against real k6: tests/conformance/.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import socket
import ssl
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
from time import perf_counter, time
from typing import Any
from urllib.parse import quote

import orjson
from yarl import URL

from veza_ray.core.cookiejar import CookieJar, cookie_value, request_cookies
from veza_ray.core.durations import DEFAULT_MAX_BODY
from veza_ray.core.guards import SECRETS, host_refusal
from veza_ray.core.http_params import (
    Expected,
    NoCallback,
    redirect_limit,
    request_timeout,
)
from veza_ray.core.http_params import response_callback as read_callback
from veza_ray.core.metric_types import Tags
from veza_ray.core.redirects import MAX_REDIRECTS, REDIRECT_STATUSES, next_request, next_url
from veza_ray.core.setcookie import ResponseCookie, response_cookies
from veza_ray.engine.h1 import (
    BODY_TOO_LARGE_CODE,
    DECOMPRESSION_CODE,
    BodyTooLarge,
    DecodeError,
    FileData,
    H1Error,
    ResponseHead,
    Truncated,
    UnexpectedEOF,
    build_head,
    decode_steps,
    encode_form,
)
from veza_ray.engine.h1client import (
    REPLAYABLE,
    ConnectFailed,
    Exchange,
    Failed,
    H1Pool,
    Key,
    StaleConnection,
    Timed,
)
from veza_ray.engine.netguard import HostRefused

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_USER_AGENT = "veza-ray/0.1 (+k6-compatible)"
COOKIE_BATCH = 500  # Set-Cookie lines stored between two turns of the loop (~5 ms)


def client_choice_problem(value: str | None) -> str | None:
    """``VEZA_RAY_HTTP_CLIENT`` once chose aiohttp instead of the lean client; that path
    disagreed with k6 on too many cases and is gone, so any value is refused."""
    if not value:
        return None
    return (
        "VEZA_RAY_HTTP_CLIENT is no longer supported: every request goes through the "
        "one HTTP client (docs/http-client.md); unset it"
    )


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
    """What a request returns: status 0 and ``error`` set when there was no (complete)
    response; ``body`` then holds what arrived of it when bodies are kept, as in k6."""

    __slots__ = (
        "_cookies",
        "_head",
        "_headers",
        "_raw_headers",
        "_set_cookies",
        "_status_text",
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
        self._set_cookies: list[str] = []  # the Set-Cookie lines of this (last) response
        self._cookies: dict[str, list[ResponseCookie]] | None = None
        # k6's res.status_text (Go's Status, e.g. "200 OK"), read off the head on demand
        self._head: ResponseHead | None = None
        self._status_text: str | None = None

    @property
    def status_text(self) -> str:
        """k6's ``res.status_text``: "200 OK", or "" when no response came."""
        if self._status_text is None:
            self._status_text = self._head.status_text if self._head is not None else ""
        return self._status_text

    @property
    def cookies(self) -> dict[str, list[ResponseCookie]]:
        """k6's ``res.cookies``: this response's Set-Cookie lines as Go reads them, name ->
        cookies with k6's fields (``res.cookies["sid"][0].value``); {} with no response."""
        if self._cookies is None:
            self._cookies = response_cookies(self._set_cookies)
        return self._cookies

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


# OpenSSL's verify codes (X509_V_ERR_*): an issuer we do not trust, or a certificate
# for another name. Go reports these as x509 errors, k6 as 1310 and 1311.
_UNTRUSTED = frozenset({2, 18, 19, 20, 21, 27})
_HOSTNAME_MISMATCH = frozenset({62, 63, 64})  # host name, e-mail, IP address


def classify_error(exc: BaseException) -> tuple[int, str]:
    """k6's error code and a short message for an exception that left no response
    (k6: lib/netext/httpext/error_codes.go)."""
    if isinstance(exc, Failed):
        exc = exc.cause
    if isinstance(exc, asyncio.TimeoutError):
        return 1050, "request timeout"
    if isinstance(exc, HostRefused):
        return 1111, str(exc)
    if isinstance(exc, ConnectFailed):
        return _dial_error(exc.host, exc.port, exc.cause)
    if isinstance(exc, StaleConnection):
        if exc.cause is None:
            return 1000, "EOF"
        exc = exc.cause
    if isinstance(exc, BodyTooLarge):
        return BODY_TOO_LARGE_CODE, str(exc)
    if isinstance(exc, DecodeError):
        return DECOMPRESSION_CODE, f"error decompressing response body ({exc})"
    if isinstance(exc, UnexpectedEOF):
        return 1000, str(exc)
    if isinstance(exc, H1Error):
        return 1000, f"malformed response: {exc}"
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        return 1201, "write: broken pipe"
    if isinstance(exc, ConnectionResetError) or (
        isinstance(exc, OSError) and exc.errno == errno.ECONNRESET
    ):
        return 1220, "read: connection reset by peer"
    if isinstance(exc, ssl.SSLError):
        return _tls_error(exc)
    if isinstance(exc, OSError):
        return 1200, f"tcp error: {exc}"
    return 1000, f"{type(exc).__name__}: {exc}"


def _tls_error(exc: ssl.SSLError) -> tuple[int, str]:
    code = getattr(exc, "verify_code", None)
    if code in _HOSTNAME_MISMATCH:
        return 1311, "x509: certificate doesn't match hostname"
    if code in _UNTRUSTED:
        return 1310, "x509: unknown authority"
    return 1300, f"tls error: {exc}"


def _dial_error(host: str, port: int | None, os_err: BaseException) -> tuple[int, str]:
    """k6's codes for a connection that could not be opened."""
    if isinstance(os_err, socket.gaierror):
        return 1101, f"lookup {host}: no such host"
    if isinstance(os_err, ssl.SSLError):
        return _tls_error(os_err)
    if isinstance(os_err, ConnectionRefusedError) or (
        isinstance(os_err, OSError) and os_err.errno == errno.ECONNREFUSED
    ):
        return 1212, f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(os_err, TimeoutError):
        return 1211, f"dial tcp {host}:{port}: i/o timeout"
    if isinstance(os_err, ConnectionResetError):
        return 1220, "read: connection reset by peer"
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


class ClientHub:
    """What one runner's VUs share: the keep-alive pool and the request defaults."""

    def __init__(
        self,
        no_reuse: bool = False,
        insecure: bool = False,
        user_agent: str | None = None,
        guard: HostGuard | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_redirects: int = MAX_REDIRECTS,
        expected: Expected = None,
    ) -> None:
        allowed = guard.allowed if guard is not None else frozenset()
        self.pool = H1Pool(no_reuse, insecure, allowed)  # checks every resolved address
        self._guard = guard
        # k6's userAgent option: unset is our default, "" sends no User-Agent at all.
        self.user_agent = DEFAULT_USER_AGENT if user_agent is None else user_agent
        self.max_body = max_body
        self.max_redirects = max_redirects
        # What every VU's client starts with: 200-399 (None), or the script's
        # module-level set_response_callback() (k6's http.setResponseCallback in init).
        self.expected = expected

    async def close(self) -> None:
        await self.pool.close()


# ok: None when the request has no response callback (k6's null): no expected_response
# tag and no http_req_failed sample.
RecordFn = Callable[[str, str, int, bool | None, int, Tags, Timings, int, int], None]
_UNSET: Any = object()


class HttpClient:
    """``vu.http``: k6's http module as coroutines; every request records k6's metrics.

    One per VU: its own cookie jar (k6's per-VU jar), the runner's shared connections.
    """

    __slots__ = ("_discard", "_expected", "_guard", "_hub", "_jar", "_record", "_timeout")

    # k6's ``http.file(data, filename, contentType)`` for multipart bodies.
    file = staticmethod(FileData)

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
        self._jar: CookieJar | None = None
        self._expected: Expected = hub.expected

    def _vu_jar(self) -> CookieJar:
        """The VU's cookies (k6 keeps one jar per VU, Go's RFC 6265 jar: core/cookiejar.py)."""
        if self._jar is None:
            self._jar = CookieJar()
        return self._jar

    def cookie_jar(self) -> Any:
        """k6's ``http.cookieJar()``: this VU's jar, to read and change (engine/cookies.py)."""
        from veza_ray.engine.cookies import CookieJar as ScriptJar

        return ScriptJar(self._vu_jar())

    def set_response_callback(self, callback: Any) -> None:
        """k6's ``http.setResponseCallback()`` for this VU's later requests: None (k6's
        null) tags no ``expected_response`` and emits no ``http_req_failed``; expected
        statuses or a predicate say which statuses are expected."""
        self._expected = read_callback(callback, "set_response_callback")

    # The verbs hand back ``request``'s coroutine rather than await it in one of their
    # own: one frame less on every resumption of a request (``await vu.http.get`` alike).
    def get(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("DELETE", url, **kw)

    def head(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("HEAD", url, **kw)

    def options(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("OPTIONS", url, **kw)

    async def batch(self, requests: Any) -> Any:
        """k6's ``http.batch``: in parallel, within ``batch``/``batchPerHost`` (batch.py)."""
        from veza_ray.engine.batch import run_batch

        return await run_batch(self, requests)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | bytearray | memoryview | str | Mapping[str, Any] | None = None,
        params: Mapping[str, str | int | float] | None = None,
        tags: Mapping[str, str] | None = None,
        timeout: float | str | None = None,
        expected_statuses: Collection[int] | Callable[[int], bool] | None = None,
        response_body: bool | None = None,
        max_response_body_size: int | None = None,
        redirects: int | None = None,
        cookies: Mapping[str, str | Mapping[str, Any]] | None = None,
        response_callback: Any = _UNSET,
        jar: Any = None,
    ) -> Response:
        """Send one request; never raises for network trouble (status 0 and ``error``
        instead). ``data`` as a dict is sent as a form (urlencoded, or multipart when a
        value is ``http.file(...)``), as k6 does with an object body. ``timeout`` is
        seconds or a k6 duration string; a bad one raises ``BadParam`` (a script error).
        ``redirects`` caps the redirects followed (k6's param; 0 returns the 3xx).
        ``cookies`` adds cookies to this request: ``{"n": "v"}``, or
        ``{"n": {"value": "v", "replace": True}}`` to send it instead of the jar's.
        ``response_callback=None`` is k6's ``responseCallback: null`` (no expected-status
        tagging; statuses or a predicate as ``expected_statuses``); ``jar`` a
        ``CookieJar()`` to use instead of the VU's."""
        method = method.upper()
        expected = self._expected_for(expected_statuses, response_callback)
        seconds = self._timeout if timeout is None else request_timeout(timeout)
        hops = self._hub.max_redirects if redirects is None else redirect_limit(redirects)
        if self._guard is not None:
            refusal = self._guard.refusal(url)
            if refusal:
                return self._refused(method, url, tags, refusal, _failed_flag(expected))
        hdrs: dict[str, str] | None = dict(headers) if headers else None
        if hdrs:
            SECRETS.learn_headers(hdrs.items())  # so this actor's messages never show them
        ctype: str | None = None
        payload: bytes | None
        if json is not None:
            payload, ctype = orjson.dumps(json), "application/json"
        elif data is None:
            payload = None
        elif isinstance(data, str):
            payload = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
        elif isinstance(data, Mapping):
            payload, ctype = encode_form(data)
        else:
            raise TypeError(f"unknown request body type {type(data).__name__}")
        keep = (not self._discard) if response_body is None else response_body
        limit = self._hub.max_body if max_response_body_size is None else max_response_body_size
        call = _Call(method, url, hdrs, payload, ctype, params, tags, seconds, hops)
        if cookies:
            call.cookies = request_cookies(cookies)
        if jar is not None:
            call.jar = _core_jar(jar)
        return await self._send(call, expected, keep, limit)

    def _expected_for(self, statuses: Expected, callback: Any) -> Expected:
        """The request's expected statuses: its own, else the VU's (set_response_callback)."""
        if callback is _UNSET:
            return self._expected if statuses is None else statuses
        if statuses is not None:
            raise ValueError("give response_callback= or expected_statuses=, not both")
        return read_callback(callback)

    async def _send(self, c: _Call, expected: Expected, keep: bool, limit: int) -> Response:
        """One request and its redirects as Go's client (so k6) follows them, one sample
        per hop."""
        pool = self._hub.pool
        method, url, hdrs, payload, params = c.method, c.url, c.hdrs, c.payload, c.params
        if c.ctype and not (hdrs and any(k.lower() == "content-type" for k in hdrs)):
            # Part of the headers, as k6 sets it: a redirect turned GET keeps it (Go does).
            hdrs = {**(hdrs or {}), "Content-Type": c.ctype}
        hops = 0
        # One deadline for the request and its redirects, as k6's timeout (a context on
        # Go's client.Do): a slow chain times out instead of getting a timeout per hop.
        deadline = perf_counter() + c.seconds  # the clock H1Pool keeps deadlines on
        # An empty body: k6 (Go) frames it chunked on POST/PUT/PATCH, not at all elsewhere.
        empty_chunked = payload == b"" and method in ("POST", "PUT", "PATCH")
        # A Referer the caller set is kept on every hop; else each names the hop before.
        referer = next((v for k, v in hdrs.items() if k.lower() == "referer"), "") if hdrs else ""
        while True:
            try:
                target = _target(url, params)
            except ValueError as exc:
                why = f"invalid URL: {exc}"
                return self._failed(method, url, c.tags, 1020, why, _failed_flag(expected))
            try:
                head = self._head(
                    method, target, hdrs, payload, c.jar, c.cookies if not hops else ()
                )
            except ValueError as exc:  # a line break in a header: never sent
                why = f"invalid request header: {exc}"
                return self._failed(method, url, c.tags, 1000, why, _failed_flag(expected))
            replayable = method in REPLAYABLE or _has_idempotency_key(hdrs)
            wire = _LAST_CHUNK if empty_chunked and payload == b"" else payload
            try:
                ex, t = await pool.exchange(
                    target.key, method, head, wire, keep, 0.0, replayable, limit, deadline
                )
            except Exception as exc:
                hop = _Hop.failed(exc, keep)
            else:
                hop = await self._answered(ex, t, target, keep, limit, hops < c.redirects, c.jar)
            status, loc = hop.status, hop.loc
            ok: bool | None
            if expected is None:  # k6's default, inline: 200-399 (status 0 is not)
                ok = 200 <= status < 400 and not hop.err
            elif isinstance(expected, NoCallback):  # responseCallback: null
                ok = None
            else:
                ok = is_expected(status, expected) and not hop.err
            name, extra = _name_and_extra(url, c.tags, hop.proto)
            sent = (len(head) + len(wire or b"")) * hop.tries  # a replay is sent twice (k6)
            self._record(method, name, status, ok, hop.code, extra, hop.timings, sent, hop.received)
            if not loc:
                res = Response(
                    method,
                    target.sent,
                    status,
                    hop.headers,
                    hop.kept,
                    hop.timings,
                    hop.err,
                    hop.code,
                )
                if status:
                    res._head, res._set_cookies = hop.head, hop.set_cookies
                return res
            # Follow as Go's client does (core/redirects.py), the headers kept but for
            # credentials to another host and cookies; Referer names the last hop.
            nxt = next_url(target.base, loc)
            hops += 1
            method, payload = next_request(status, method, payload)
            empty_chunked = empty_chunked and payload == b""
            hdrs = _redirect_headers(hdrs, target, nxt, referer)
            url, params = nxt, None
            if self._guard is not None:
                refusal = self._guard.refusal(url)
                if refusal:
                    return self._refused(method, url, c.tags, refusal, _failed_flag(expected))

    async def _answered(
        self,
        ex: Exchange,
        t: Timed,
        target: _Target,
        keep: bool,
        limit: int,
        follow: bool,
        jar: CookieJar | None,
    ) -> _Hop:
        """What one answered exchange gives k6's sample and response: status, kept and
        decoded body, error code, cookies stored, the Location to follow."""
        rh = ex.head
        hop = _Hop(rh.status, exchange_timings(t, ex), t.tries, ex.received)
        hop.head, hop.proto, hop.headers = rh, rh.proto, rh
        if hop.status >= 400:
            hop.code = 1000 + hop.status  # k6's error_code for an HTTP error status
        status = hop.status
        if keep and (status >= 200 or status == 101) and status not in (204, 304):
            hop.kept = ex.body  # k6 has no body (null) for 1xx, 204 and 304
            if hop.kept:
                codings = rh.values("content-encoding")
                hop.kept, dcode, derr = await _decoded(codings, hop.kept, limit)
                if dcode:  # k6 then has no response: no status, no proto
                    hop.status, hop.code, hop.err, hop.proto = 0, dcode, derr, ""
        cookies = rh.values("set-cookie")
        if cookies:
            if hop.status:  # k6 keeps no cookie of a response that failed (its body)
                hop.set_cookies = cookies
            await self._store_cookies(
                cookies, target, (jar or self._vu_jar()) if hop.status else None
            )
        if hop.status in REDIRECT_STATUSES and follow:
            hop.loc = _location(rh.values("location"))
        return hop

    def _head(
        self,
        method: str,
        target: _Target,
        hdrs: dict[str, str] | None,
        payload: bytes | None,
        jar: CookieJar | None,
        cookies: tuple[tuple[str, str, bool], ...] = (),
    ) -> bytes:
        """The request head as k6 sends it (Host, User-Agent, the caller's headers; no
        default Content-Type or Accept); the fixed part is built once per (method, URL,
        headers)."""
        ua = self._hub.user_agent
        key = (
            method,
            target.path,
            target.host,
            target.auth,
            ua,
            tuple(hdrs.items()) if hdrs else None,
        )
        whole = _HEADS.get(key)  # the head with its blank line, as most requests send it
        if whole is None:
            merged = {"host": ("Host", target.host)}
            if ua:
                merged["user-agent"] = ("User-Agent", ua)
            if target.auth:
                merged["authorization"] = ("Authorization", target.auth)
            if hdrs:
                for k, v in hdrs.items():
                    low = k.lower()
                    if low != "content-length":  # k6 (Go) writes its own
                        merged[low] = (k, v)
            if not merged.get("user-agent", ("", "x"))[1]:
                merged.pop("user-agent", None)  # an empty User-Agent: Go sends none
            merged.pop("cookie", None)  # written below, merged with the jar's as in k6
            whole = build_head(method, target.path, merged.values())
            if len(_HEADS) < 10_000:
                _HEADS[key] = whole
        if not (payload is not None or cookies or hdrs or self._jar) and method not in _BODIED:
            return whole  # nothing to add: no length, no cookie (a GET without headers)
        extra = b""
        if payload == b"":
            if method in ("POST", "PUT", "PATCH"):
                extra = b"Transfer-Encoding: chunked\r\n"
        elif payload is not None or method in ("POST", "PUT", "PATCH"):
            extra = b"Content-Length: %d\r\n" % len(payload or b"")
        line = next((v for k, v in hdrs.items() if k.lower() == "cookie"), "") if hdrs else ""
        if cookies:  # the request's own, after the header's and before the jar's (k6)
            own = "; ".join(f"{n}={cookie_value(v)}" for n, v, _ in cookies)
            line = f"{line}; {own}" if line else own
        jar = jar or self._jar
        if jar is not None and len(jar):
            u = target.url
            skip = frozenset(n for n, _, replace in cookies if replace)
            https = target.key[0] == "https"
            held = jar.header(u.host or "", u.path or "/", https, time(), skip)
            line = f"{line}; {held}" if line and held else (line or held)
        if line:  # one Cookie line: the script's, then the jar's (k6: req.AddCookie)
            if "\r" in line or "\n" in line:
                raise ValueError("header 'Cookie' holds a line break")
            extra += f"Cookie: {line}\r\n".encode()
        return whole[:-2] + extra + b"\r\n"

    async def _store_cookies(
        self, values: list[str], target: _Target, jar: CookieJar | None
    ) -> None:
        """Learn (as secrets) and store (unless ``jar`` is None: learn only) each
        Set-Cookie, the loop freed every ``COOKIE_BATCH`` lines: a 1 MiB head holds tens of
        thousands of them, which took the loop for a quarter second and more in one go."""
        now = time()
        host, path = target.url.host or "", target.url.path or "/"
        for start in range(0, len(values), COOKIE_BATCH):
            if start:
                await asyncio.sleep(0)
            batch = values[start : start + COOKIE_BATCH]
            SECRETS.learn_headers(("Set-Cookie", v) for v in batch)
            if jar is not None:
                for v in batch:
                    jar.store(v, host, path, now)

    def _failed(
        self,
        method: str,
        url: str,
        tags: Mapping[str, str] | None,
        code: int,
        why: str,
        ok: bool | None = False,
    ) -> Response:
        timings = Timings()
        name, extra = _name_and_extra(url, tags)
        self._record(method, name, 0, ok, code, extra, timings, 0, 0)
        return Response(method, url, 0, (), None, timings, why, code)

    def _refused(
        self, method: str, url: str, tags: Mapping[str, str] | None, why: str, ok: bool | None
    ) -> Response:
        """A blocked host: nothing is sent; counted as a failed request, k6's code 1111."""
        return self._failed(method, url, tags, 1111, why.replace("BASE_URL", "URL"), ok)


class _Hop:
    """One exchange of a request's redirect chain, as its sample and response need it."""

    __slots__ = (
        "code",
        "err",
        "head",
        "headers",
        "kept",
        "loc",
        "proto",
        "received",
        "set_cookies",
        "status",
        "timings",
        "tries",
    )

    def __init__(self, status: int, timings: Timings, tries: int, received: int) -> None:
        self.status = status
        self.timings = timings
        self.tries = tries
        self.received = received
        self.proto = self.err = self.loc = ""
        self.head: ResponseHead | None = None
        self.code = 0
        self.kept: bytes | None = None
        self.headers: Iterable[tuple[str, str]] = ()
        self.set_cookies: list[str] = []

    @classmethod
    def failed(cls, exc: BaseException, keep: bool) -> _Hop:
        """An exchange that broke: k6's error code, the time it took, what arrived."""
        timed = getattr(exc, "timed", None)
        hop = cls(0, failure_timings(timed), timed.tries if timed is not None else 1, 0)
        hop.code, hop.err = classify_error(exc)
        if isinstance(exc, Failed):
            hop.received = exc.received
            if keep and hop.code != BODY_TOO_LARGE_CODE:
                hop.kept = exc.body
        return hop


class _Call:
    """One request as the caller asked for it."""

    __slots__ = (
        "cookies",
        "ctype",
        "hdrs",
        "jar",
        "method",
        "params",
        "payload",
        "redirects",
        "seconds",
        "tags",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: str,
        hdrs: dict[str, str] | None,
        payload: bytes | None,
        ctype: str | None,
        params: Mapping[str, str | int | float] | None,
        tags: Mapping[str, str] | None,
        seconds: float,
        redirects: int,
    ) -> None:
        self.method = method
        self.url = url
        self.hdrs = hdrs
        self.payload = payload
        self.ctype = ctype
        self.params = params
        self.tags = tags
        self.seconds = seconds
        self.redirects = redirects
        self.cookies: tuple[tuple[str, str, bool], ...] = ()  # (name, value, replace)
        self.jar: CookieJar | None = None  # k6's ``jar`` param: instead of the VU's


_LAST_CHUNK = b"0\r\n\r\n"  # an empty chunked body
_BODIED = frozenset({"POST", "PUT", "PATCH"})  # framed even without a body (k6, Go)


def _failed_flag(expected: Expected) -> bool | None:
    """A request that got no response: failed, or untagged with no response callback."""
    return None if isinstance(expected, NoCallback) else False


def _core_jar(jar: Any) -> CookieJar:
    """The jar behind k6's ``jar`` request param (a ``CookieJar()`` or ``cookie_jar()``)."""
    inner = getattr(jar, "_jar", None)
    if not isinstance(inner, CookieJar):
        raise TypeError(f"jar={jar!r}: give a CookieJar() or vu.http.cookie_jar()")
    return inner


def _location(values: list[str]) -> str:
    """The first Location as Go reads it: its bytes (kept in latin-1 by the head) taken as
    UTF-8, so a raw ``ü`` is one character (``%C3%BC`` in the path once sent), not two."""
    loc = values[0] if values else ""
    if loc.isascii():
        return loc
    raw = loc.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8: each byte %-encoded, as Go writes it
        return quote(raw, safe=_URL_SAFE)


def _as_sent(raw: str) -> str:
    """A URL as it goes out: outside ASCII (or a space) %-encoded as UTF-8, escapes
    already there kept. Go does this to the path; its raw query bytes (a space breaks the
    request line) are the one place we differ (docs/http-client.md)."""
    if raw.isascii() and raw.isprintable() and " " not in raw:
        return raw
    return quote(raw, safe=_URL_SAFE)


async def _decoded(codings: list[str], body: bytes, limit: int) -> tuple[bytes | None, int, str]:
    """The body with its Content-Encoding undone, as k6 gives it; a body that does not
    decode fails the request (status 0, k6's 1701), one decoding past the limit 1702.
    Decoded in steps (``decode_steps``) with the loop freed between them: a 32 MiB body
    decoded in one call held every VU of the actor for 100 ms and more."""
    if not codings:
        return body, 0, ""
    steps = decode_steps(body, ",".join(codings), limit)
    try:
        while True:
            next(steps)
            await asyncio.sleep(0)
    except StopIteration as done:
        return done.value, 0, ""
    except Truncated as exc:  # k6: 1000 "unexpected EOF", the body decoded so far kept
        return exc.decoded, 1000, "unexpected EOF"
    except (DecodeError, BodyTooLarge) as exc:
        code, err = classify_error(exc)
    return None, code, err


def _redirect_headers(
    hdrs: dict[str, str] | None, target: _Target, nxt: str, referer: str
) -> dict[str, str]:
    """The headers of the next hop, as Go's client carries them."""
    out = dict(hdrs) if hdrs else {}
    nxt_target_host = URL(nxt, encoded=True).host if "://" in nxt else None
    if nxt_target_host != target.key[1]:
        # Credentials are for the host they were given to (Go's rule, so k6's).
        out = {k: v for k, v in out.items() if k.lower() not in _CREDENTIALS}
    else:
        out = {k: v for k, v in out.items() if k.lower() not in ("cookie", "cookie2")}
    out = {k: v for k, v in out.items() if k.lower() != "referer"}
    if not (target.key[0] == "https" and nxt.startswith("http:")):
        out["Referer"] = referer or target.referer
    return out


def exchange_timings(t: Timed, ex: Exchange) -> Timings:
    """k6's phases of an exchange that got its whole response (each clamped at 0; on the
    hot path, so conditionals rather than calls to max)."""
    blocked = t.started - t.asked
    sending = t.sent - t.connected
    waiting = ex.t_first - t.sent
    receiving = ex.t_end - ex.t_first
    return Timings(
        blocked * 1000.0 if blocked > 0.0 else 0.0,
        t.connecting * 1000.0,
        t.secured * 1000.0,
        sending * 1000.0 if sending > 0.0 else 0.0,
        waiting * 1000.0 if waiting > 0.0 else 0.0,
        receiving * 1000.0 if receiving > 0.0 else 0.0,
    )


def failure_timings(t: Timed | None) -> Timings:
    """The phases of an exchange that failed, as k6 computes them (httpext/tracer.go
    ``Done``): connecting counts once the connection was had; after the request was
    written, ``waiting`` runs to the failure when no byte came back, else ``receiving``
    runs from the first byte to it. So a 1 s timeout is a ~1 s ``http_req_duration``:
    timing failures as 0 ms would make the worst requests count as the fastest."""
    if t is None:
        return Timings()
    if not t.got_conn:  # a dial or TLS failure: only a finished TCP connect is counted
        return Timings(connecting=t.connecting * 1000.0)
    sending = waiting = receiving = 0.0
    if t.wrote:
        sending = max(0.0, t.sent - t.connected) * 1000.0
        if t.first:
            waiting = max(0.0, t.first - t.sent) * 1000.0
        else:
            waiting = max(0.0, t.done - t.sent) * 1000.0
    if t.first:
        receiving = max(0.0, t.done - t.first) * 1000.0
    return Timings(
        blocked=max(0.0, t.started - t.asked) * 1000.0,
        connecting=t.connecting * 1000.0,
        tls_handshaking=t.secured * 1000.0,
        sending=sending,
        waiting=waiting,
        receiving=receiving,
    )


def _has_idempotency_key(hdrs: Mapping[str, str] | None) -> bool:
    if not hdrs:
        return False
    return any(k.lower() in ("idempotency-key", "x-idempotency-key") for k in hdrs)


def _masked(url: str) -> str:
    """k6's URL tag hides credentials: http://user:pass@h/ is tagged http://****:****@h/."""
    if "@" not in url:
        return url
    start = url.find("//") + 2
    end = url.find("/", start)
    authority = url[start : end if end >= 0 else len(url)]
    at = authority.rfind("@")
    if start < 2 or at < 0:
        return url
    mask = "****:****" if ":" in authority[:at] else "****"
    return url[:start] + mask + url[start + at :]


class HostGuard:
    """Refuses requests to hosts that are neither loopback nor allowed (k6's blockHostnames).

    Verdicts are cached per scheme://authority prefix, and per whole URL (bounded) so the
    hot path pays one dict lookup.
    """

    __slots__ = ("_by_url", "_cache", "allowed")

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self._cache: dict[str, str | None] = {}
        self._by_url: dict[str, str | None] = {}

    def refusal(self, url: str) -> str | None:
        try:
            return self._by_url[url]
        except KeyError:
            verdict = self._refusal(url)
            if len(self._by_url) < 10_000:
                self._by_url[url] = verdict
            return verdict

    def _refusal(self, url: str) -> str | None:
        end = url.find("/", url.find("//") + 2)
        prefix = url if end < 0 else url[:end]
        try:
            return self._cache[prefix]
        except KeyError:
            verdict = host_refusal(prefix + "/", self.allowed)
            self._cache[prefix] = verdict
            return verdict


_HEADS: dict[tuple[str, str, str, str, str, tuple[tuple[str, str], ...] | None], bytes] = {}
_TARGETS: dict[str, _Target] = {}
# Characters a URL may hold as written; anything else (space, non-ASCII) is %-encoded as
# Go encodes a path. Escapes already there stay as written: ``?a=%2Fb`` is sent so.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]^_`{|}~"


class _Target:
    """A URL as a request needs it: pool key, Host header, request target (as written),
    Basic credentials from its userinfo, and what a redirect resolves against."""

    __slots__ = ("auth", "base", "host", "key", "path", "referer", "sent", "url")

    def __init__(self, raw: str, params: Mapping[str, str | int | float] | None) -> None:
        self.sent = _as_sent(raw)  # the response's url: the one given, %-encoded as sent
        url = URL(self.sent, encoded=True)
        if params:
            url = url.extend_query(params)
        scheme = url.scheme
        if scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{raw[:200]!r} is not an absolute http(s) URL")
        port = url.port or (443 if scheme == "https" else 80)
        self.url = url
        self.key: Key = (scheme, url.host, port)
        self.host = url.host_port_subcomponent or url.host
        self.path = url.raw_path_qs or "/"
        self.auth = ""
        if url.raw_user is not None:
            cred = f"{url.user or ''}:{url.password or ''}".encode()
            self.auth = "Basic " + base64.b64encode(cred).decode()
        self.base = str(url.with_fragment(None))
        self.referer = str(url.with_user(None).with_fragment(None))


def _target(url: str, params: Mapping[str, str | int | float] | None) -> _Target:
    """Parse (and cache, per URL string) what a request line needs; params are not cached."""
    if params:
        return _Target(url, params)
    hit = _TARGETS.get(url)
    if hit is None:
        hit = _Target(url, None)
        if len(_TARGETS) < 10_000:
            _TARGETS[url] = hit
    return hit


_CREDENTIALS = frozenset({"authorization", "www-authenticate", "cookie", "cookie2"})
# Tag memos: identity, never display. Tag values are kept as given (redaction happens
# where an output writes them), so a secret learned later cannot leave a stale redacted
# copy here. The book owns them: ``SECRETS.clear()`` resets them with it.
_TAGSETS: dict[tuple[tuple[tuple[str, str], ...], str], tuple[str | None, Tags]] = SECRETS.owns({})


def _name_and_extra(url: str, tags: Mapping[str, str] | None, proto: str = "") -> tuple[str, Tags]:
    """The ``name`` tag (default: the URL, its userinfo masked as k6 masks it) and the
    other request tags with k6's ``proto`` when a response came (``proto``), sorted once
    per distinct tags dict and proto rather than on every request.
    Values are the real ones: thresholds and series match on them; outputs redact."""
    if not tags:
        return _NAMES.get(url) or _url_name(url), (_with_proto((), proto) if proto else ())
    key = (tuple(tags.items()), proto)
    hit = _TAGSETS.get(key)
    if hit is None:
        extra = tuple(sorted(kv for kv in key[0] if kv[0] != "name"))
        hit = (tags.get("name") or None, _with_proto(extra, proto) if proto else extra)
        if len(_TAGSETS) < 10_000:  # bounded: tags built from data must not grow it forever
            _TAGSETS[key] = hit
    return (hit[0] or _url_name(url)), hit[1]


_NAMES: dict[str, str] = SECRETS.owns({})
_PROTOS: dict[tuple[Tags, str], Tags] = {}


def _with_proto(extra: Tags, proto: str) -> Tags:
    """The request's tags plus k6's ``proto`` (only when a response came: k6 leaves it off
    a request that got none), memoised per tag set."""
    key = (extra, proto)
    hit = _PROTOS.get(key)
    if hit is None:
        hit = tuple(sorted([*extra, ("proto", proto)]))
        if len(_PROTOS) < 10_000:
            _PROTOS[key] = hit
    return hit


def _url_name(url: str) -> str:
    """A URL as a tag value: its secrets learned (so outputs hide them), its userinfo
    masked as k6 masks it (memoised per URL)."""
    name = _NAMES.get(url)
    if name is None:
        SECRETS.learn_url(url)
        name = _masked(_as_sent(url))  # k6 tags the URL as Go writes it: /café as /caf%C3%A9
        if len(_NAMES) < 10_000:
            _NAMES[url] = name
    return name
