"""A lean HTTP/1.1 keep-alive client: one asyncio.Protocol per connection, one pool per actor.

Why: a small request through aiohttp costs ~70 µs of Python on this hardware, most of it
bookkeeping a load generator does not need; here a request is a pre-built head written to
the transport and a response read by ``veza_ray.h1``'s framing rules, and every k6 phase
falls out of timestamps taken where the events happen (connection opened, TLS done, head
written, first byte read, last byte read). ``veza_ray.http`` decides per request whether
this path or aiohttp serves it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from time import monotonic, perf_counter
from typing import Any

from veza_ray.h1 import MAX_HEAD_BYTES, ChunkedBody, H1Error, ResponseHead, parse_head
from veza_ray.netguard import resolve_checked

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
DNS_TTL_S = 300.0

Key = tuple[str, str, int]  # scheme, host, port


class ConnectFailed(Exception):
    """Opening a connection failed; carries what k6's dial error codes need."""

    def __init__(self, host: str, port: int, cause: BaseException) -> None:
        super().__init__(f"{host}:{port}: {cause}")
        self.host = host
        self.port = port
        self.cause = cause


class StaleConnection(ConnectionResetError):
    """A reused connection closed before any byte of the response came back."""


class Exchange:
    """One response read off a connection, with the times of its first and last byte."""

    __slots__ = ("body", "head", "received", "t_end", "t_first")

    def __init__(self, head: ResponseHead, body: bytes | None, received: int, t_first: float):
        self.head = head
        self.body = body
        self.received = received
        self.t_first = t_first
        self.t_end = perf_counter()


class H1Conn(asyncio.Protocol):
    """One connection; at most one request in flight (no pipelining)."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self._fut: asyncio.Future[Exchange] | None = None
        self._method = "GET"
        self._keep = False
        self._buf = b""
        self._head: ResponseHead | None = None
        self._left = 0
        self._chunks: ChunkedBody | None = None
        self._parts: list[bytes] = []
        self._received = 0
        self._t_first = 0.0
        self._drain: asyncio.Future[None] | None = None
        self._paused = False

    # ---- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        fut = self._fut
        if fut is None or fut.done():
            self._fail(H1Error("data arrived with no request in flight"))
            return
        if not self._received:
            self._t_first = perf_counter()
        self._received += len(data)
        try:
            while self._head is None:
                if self._buf:
                    data = self._buf + data
                    self._buf = b""
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    if len(data) > MAX_HEAD_BYTES:
                        raise H1Error("response head larger than 64 KiB")
                    self._buf = data
                    return
                head = parse_head(data[:end], self._method)
                data = data[end + 4 :]
                if 100 <= head.status < 200 and head.status != 101:
                    continue  # an interim response: the real one follows
                self._head = head
                self._left = head.length
                if head.chunked:
                    self._chunks = ChunkedBody(self._keep)
            self._body(data)
        except H1Error as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()  # a writer waiting to drain must not wait for ever
        fut = self._fut
        if fut is None or fut.done():
            return
        head = self._head
        if head is not None and head.length < 0 and not head.chunked:
            self._finish()  # a close-delimited body ends here
        elif not self._received and self.uses > 1:
            fut.set_exception(StaleConnection("keep-alive connection closed by the server"))
        else:
            fut.set_exception(exc or ConnectionResetError("connection closed mid-response"))

    # ---- used by the pool ------------------------------------------------------------

    def begin(self, method: str, keep: bool) -> asyncio.Future[Exchange]:
        """Arm the parser for the response to a request about to be written."""
        self.uses += 1
        self._method = method
        self._keep = keep
        self._head = None
        self._chunks = None
        self._parts = []
        self._received = 0
        self._t_first = 0.0
        self._buf = b""
        fut: asyncio.Future[Exchange] = asyncio.get_running_loop().create_future()
        self._fut = fut
        return fut

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        if self._paused and not self.closed:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def expire(self) -> None:
        """The request's deadline passed: fail it and drop the connection (k6 code 1050)."""
        self._fail(asyncio.TimeoutError())

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ---- internals -------------------------------------------------------------------

    def _body(self, data: bytes) -> None:
        head = self._head
        assert head is not None
        if self._chunks is not None:
            used = self._chunks.feed(data)
            if self._chunks.done:
                if used < len(data):
                    head.keep_alive = False  # bytes after the body: do not trust the stream
                self._finish()
            return
        if head.length < 0:  # until close
            if self._keep and data:
                self._parts.append(data)
            return
        n = len(data)
        if n >= self._left:
            if self._keep and self._left:
                self._parts.append(data[: self._left])
            if n > self._left:
                head.keep_alive = False
            self._left = 0
            self._finish()
        else:
            if self._keep and n:
                self._parts.append(data)
            self._left -= n

    def _finish(self) -> None:
        head = self._head
        fut = self._fut
        assert head is not None and fut is not None
        if not self._keep:
            body = None
        elif self._chunks is not None:
            body = self._chunks.body()
        else:
            body = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        fut.set_result(Exchange(head, body, self._received, self._t_first))
        self._parts = []
        if not head.keep_alive:
            self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        self.abort()


class Timed:
    """The timestamps of one exchange that k6's phases are computed from (perf_counter s)."""

    __slots__ = ("asked", "connected", "connecting", "secured", "sent", "started")

    def __init__(self) -> None:
        self.asked = perf_counter()
        # After DNS, when the TCP connect began; stays ``asked`` on a reused connection.
        self.started = self.asked
        self.connecting = 0.0  # seconds spent in TCP connect
        self.connected = self.asked  # connection ready for this request (after TLS)
        self.secured = 0.0  # seconds spent in the TLS handshake
        self.sent = self.asked


class H1Pool:
    """Idle keep-alive connections per (scheme, host, port), shared by an actor's VUs."""

    def __init__(
        self, no_reuse: bool = False, insecure: bool = False, allowed: frozenset[str] = frozenset()
    ) -> None:
        self._allowed = allowed  # non-loopback hosts/addresses this pool may connect to
        self._idle: dict[Key, list[H1Conn]] = {}
        self._all: set[H1Conn] = set()
        self._no_reuse = no_reuse
        self._insecure = insecure
        self._ssl: ssl.SSLContext | None = None
        self._dns: dict[tuple[str, int], tuple[float, list[Any]]] = {}

    async def exchange(
        self,
        key: Key,
        method: str,
        head: bytes,
        body: bytes | None,
        keep: bool,
        timeout: float,
    ) -> tuple[Exchange, Timed]:
        """Send one request and read its response; retries once on a stale keep-alive
        connection for idempotent methods, as Go's and aiohttp's clients do."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for attempt in (0, 1):
            t = Timed()
            conn = self._take(key)
            if conn is None:
                conn = await self._open(key, t, deadline)
            fut = conn.begin(method, keep)
            timer = loop.call_at(deadline, conn.expire)
            try:
                transport = conn.transport
                assert transport is not None
                transport.write(head)
                if body:
                    transport.write(body)
                await conn.drain()
                t.sent = perf_counter()
                ex = await fut
            except StaleConnection:
                self._all.discard(conn)
                if attempt or method not in IDEMPOTENT:
                    raise
                continue
            except BaseException:
                conn.abort()
                self._all.discard(conn)
                raise
            finally:
                timer.cancel()
            self._give_back(conn)
            return ex, t
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for conn in list(self._all):
            conn.abort()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)

    def _take(self, key: Key) -> H1Conn | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
            self._all.discard(conn)
        return None

    def _give_back(self, conn: H1Conn) -> None:
        if conn.closed or self._no_reuse:
            if not conn.closed:
                conn._close()
            self._all.discard(conn)
            return
        self._idle.setdefault(conn.key, []).append(conn)

    async def _open(self, key: Key, t: Timed, deadline: float) -> H1Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            addrs = await asyncio.wait_for(self._resolve(host, port), deadline - loop.time())
            t.started = perf_counter()
            conn = H1Conn(key)
            last: BaseException | None = None
            for family, _, proto, _, addr in addrs:
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM, proto)
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    try:
                        await asyncio.wait_for(
                            loop.sock_connect(sock, addr), deadline - loop.time()
                        )
                    except BaseException:
                        sock.close()
                        raise
                    break
                except OSError as exc:
                    last = exc
            else:
                raise last or OSError("no address to connect to")
            transport, _ = await loop.create_connection(lambda: conn, sock=sock)
            now = perf_counter()
            t.connecting = now - t.started
            if scheme == "https":
                try:
                    tls = await asyncio.wait_for(
                        loop.start_tls(transport, conn, self._ssl_context(), server_hostname=host),
                        deadline - loop.time(),
                    )
                    if tls is None:
                        raise ssl.SSLError("TLS could not be started")
                except BaseException:
                    transport.abort()  # the TCP connection is open: do not leave it behind
                    raise
                conn.transport = tls  # type: ignore[assignment]
                t.secured = perf_counter() - now
        except asyncio.TimeoutError:
            raise  # the request's own deadline: k6's "request timeout", as on aiohttp's path
        except OSError as exc:
            raise ConnectFailed(host, port, exc) from exc
        t.connected = perf_counter()
        self._all.add(conn)
        return conn

    async def _resolve(self, host: str, port: int) -> list[Any]:
        """The host's addresses, checked by the guard (``netguard``): the connection is
        opened to exactly these, so a second lookup can never lead elsewhere."""
        now = monotonic()
        hit = self._dns.get((host, port))
        if hit is not None and hit[0] > now:
            return hit[1]
        infos = await resolve_checked(host, port, self._allowed)
        self._dns[(host, port)] = (now + DNS_TTL_S, infos)
        return infos

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self._insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        return self._ssl
