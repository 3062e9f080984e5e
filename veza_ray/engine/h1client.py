"""A lean HTTP/1.1 keep-alive client: one asyncio.Protocol per connection, one pool per actor.

Why: a small request through aiohttp costs ~70 µs of Python on this hardware, most of it
bookkeeping a load generator does not need; here a request is a pre-built head written to
the transport and a response framed by llhttp (``veza_ray.engine.h1``), and every k6 phase
falls out of timestamps taken where the events happen (connection opened, TLS done, head
written, first byte read, last byte read). ``veza_ray.engine.http`` builds the requests and
adds k6's semantics (redirects, cookies, decoding, error codes).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from time import monotonic, perf_counter
from typing import Any

from veza_ray.core.durations import DEFAULT_MAX_BODY
from veza_ray.engine.h1 import (
    MAX_HEAD_BYTES,
    BodyTooLarge,
    H1Error,
    ResponseHead,
    ResponseReader,
    UnexpectedEOF,
)
from veza_ray.engine.netguard import resolve_checked

# Go resends these (and requests with an Idempotency-Key) after a stale keep-alive close.
REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DNS_TTL_S = 300.0
# A body up to this size goes out in the same write as its head: one syscall, not two.
COALESCE_BYTES = 64 * 1024

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

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__("keep-alive connection closed by the server")
        self.cause = cause  # None: a clean close (Go: EOF); else the reset


class Failed(Exception):
    """An exchange that ended without a complete response; what arrived is kept, as k6
    keeps the partial body of a request that timed out or was reset mid-body."""

    def __init__(self, cause: BaseException, body: bytes | None, received: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.body = body
        self.received = received


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
    """One connection; at most one request in flight (no pipelining). llhttp frames the
    responses (``h1.ResponseReader``); this adds the timestamps and what a close means."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self._fut: asyncio.Future[Exchange] | None = None
        self._reader = ResponseReader()
        self._received = 0
        self._t_first = 0.0
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        # The deadline of the request in flight, and the one timer that enforces it. The
        # timer is kept across requests (a 60 s timeout outlives a 1 ms exchange): when it
        # fires early for a later request it re-arms, so a request pays a float store
        # instead of a TimerHandle scheduled and cancelled.
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None  # set once connected

    # ---- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        fut = self._fut
        if fut is None or fut.done():
            self.abort()  # bytes nobody asked for: this stream cannot be trusted again
            return
        if not self._received:
            self._t_first = perf_counter()
        self._received += len(data)
        try:
            done = self._reader.feed(data)
            if not done and self._reader.head is None and self._received > MAX_HEAD_BYTES:
                raise H1Error("response head larger than 1 MiB")
        except (H1Error, BodyTooLarge) as exc:
            self._fail(exc)
            return
        if done:
            self._finish()

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.resume_writing()  # a writer waiting to drain must not wait for ever
        fut = self._fut
        if fut is None or fut.done():
            return
        if not self._received and self.uses > 1:
            fut.set_exception(StaleConnection(exc))
        elif exc is not None:
            fut.set_exception(exc)  # a reset, even mid close-delimited body (k6: 1220)
        elif self._reader.ends_at_close():
            self._finish()  # a close-delimited body ends here
        else:  # Go's words: "EOF" before any byte, "unexpected EOF" after some
            fut.set_exception(UnexpectedEOF("unexpected EOF" if self._received else "EOF"))

    # ---- used by the pool ------------------------------------------------------------

    def begin(self, method: str, keep: bool, limit: int) -> asyncio.Future[Exchange]:
        """Arm the parser for the response to a request about to be written."""
        self.uses += 1
        self._reader.start(method, keep, limit)
        self._received = 0
        self._t_first = 0.0
        fut: asyncio.Future[Exchange] = asyncio.Future(loop=self._loop)
        self._fut = fut
        return fut

    def arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Expire the request in flight at ``deadline`` (``perf_counter`` time) unless it
        is done. Deadlines are kept on that clock, not the loop's: libuv's loop time has
        millisecond steps and is read once per turn, so a deadline taken from it, and its
        timers, come up to ~1 ms early; Go's never do (a 1 s timeout is 1000.x ms in k6)."""
        self._deadline = deadline
        timer = self._timer
        if timer is None or self._timer_at > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_later(deadline - perf_counter(), self._on_timer)
            self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        fut = self._fut
        if fut is None or fut.done():
            return  # idle, or answered: nothing to expire; the next request re-arms
        left = self._deadline - perf_counter()
        if left <= 0:
            self.expire()
            return
        # Early: armed for an earlier request, or the loop's coarse clock (see ``arm``).
        self._timer = asyncio.get_running_loop().call_later(left, self._on_timer)
        self._timer_at = self._deadline

    def partial(self) -> bytes | None:
        """What arrived of the body before a failure (k6 keeps it); None when not even the
        head had arrived."""
        r = self._reader
        return r.body() if r.head is not None or r.parts else None

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
        self._reader.parts = []  # what a failed exchange kept is not needed any more
        if self.transport is not None:
            self.transport.abort()

    # ---- internals -------------------------------------------------------------------

    def _finish(self) -> None:
        r = self._reader
        head = r.head
        fut = self._fut
        assert head is not None and fut is not None
        body = r.body() if r.keep else None
        fut.set_result(Exchange(head, body, self._received, self._t_first))
        r.parts = []
        if not head.keep_alive or r.trailing:
            self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        """Fail the exchange and drop the connection; what arrived of the body stays for
        ``partial`` (k6 keeps it), unless it is what broke the limit."""
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        if isinstance(exc, BodyTooLarge):
            self._reader.parts = []
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Timed:
    """The timestamps of one exchange that k6's phases are computed from (perf_counter s)."""

    __slots__ = (
        "asked",
        "connected",
        "connecting",
        "done",
        "first",
        "got_conn",
        "secured",
        "sent",
        "started",
        "tries",
        "wrote",
    )

    def __init__(self) -> None:
        self.asked = perf_counter()
        # After DNS, when the TCP connect began; stays ``asked`` on a reused connection.
        self.started = self.asked
        self.connecting = 0.0  # seconds spent in TCP connect
        self.connected = self.asked  # connection ready for this request (after TLS)
        self.secured = 0.0  # seconds spent in the TLS handshake
        self.sent = self.asked
        # What a failed exchange needs to be timed as k6 times it (httpext/tracer.go Done):
        # whether the connection was had and the request written, when the first byte came
        # and when it all ended. A success never reads them.
        self.got_conn = False
        self.wrote = False
        self.first = 0.0
        self.done = 0.0
        self.tries = 1  # 2 when Go's replay after a stale keep-alive close was taken

    def failed(self, exc: BaseException, first: float = 0.0) -> BaseException:
        """Stamp the end of a failed exchange on ``exc`` (``exc.timed``), so the sample
        carries the time it really took: a timeout is not a 0 ms request."""
        self.first = first
        self.done = perf_counter()
        exc.timed = self  # type: ignore[attr-defined]
        return exc


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
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this pool serves, taken at first use (its connections' transports are
        that loop's; asking asyncio for the running loop costs ~0.35 us a request)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def exchange(
        self,
        key: Key,
        method: str,
        head: bytes,
        body: bytes | None,
        keep: bool,
        timeout: float,
        replayable: bool = False,
        limit: int = DEFAULT_MAX_BODY,
        deadline: float | None = None,
    ) -> tuple[Exchange, Timed]:
        """Send one request and read its response within ``timeout`` seconds, or by
        ``deadline`` (``perf_counter`` time) when given. A reused connection that the server had
        closed is retried once on a new one when ``replayable`` (Go's rule: GET, HEAD,
        OPTIONS, TRACE, or an Idempotency-Key header). Anything that goes wrong once the
        request is on its way raises ``Failed`` with what arrived."""
        loop = self.loop
        if deadline is None:
            deadline = perf_counter() + timeout
        had = 0.0  # when the first attempt had its connection
        for attempt in (0, 1):
            t = Timed()
            t.tries = attempt + 1
            conn = self._take(key)
            if conn is None:
                try:
                    conn = await self._open(key, t, deadline)
                except Exception as exc:
                    raise t.failed(exc) from None
            t.got_conn = True
            if attempt:
                # A replay is one request to k6, timed from the first attempt's connection:
                # Go's tracer keeps the first connect stamps and takes the replay's write
                # (httpext/tracer.go), so ``sending`` spans the stale attempt and the new
                # dial. Timing only the replay would hide the time the first one lost.
                t.connected, t.connecting, t.secured = had, 0.0, 0.0
            had = t.connected
            fut = conn.begin(method, keep, limit)
            conn.arm(loop, deadline)
            try:
                transport = conn.transport
                assert transport is not None
                if not body:
                    transport.write(head)
                elif len(body) <= COALESCE_BYTES:  # one send for both, as Go's bufio does
                    transport.write(head + body)
                else:
                    transport.write(head)
                    transport.write(body)
                if conn._paused:  # over the write buffer's high-water mark: wait
                    await conn.drain()
                t.sent = perf_counter()
                t.wrote = True
                ex = await fut
            except StaleConnection as exc:
                self._all.discard(conn)
                if attempt or not replayable:
                    raise t.failed(Failed(exc, None, 0)) from exc
                continue
            except Exception as exc:
                kept = None if isinstance(exc, BodyTooLarge) else conn.partial()
                first = conn._t_first
                conn.abort()
                self._all.discard(conn)
                raise t.failed(Failed(exc, kept, conn._received), first) from exc
            except BaseException:
                conn.abort()
                self._all.discard(conn)
                raise
            finally:
                # The future holds the exception, whose traceback holds this frame and so
                # the connection: a cycle that would keep a failed body's buffers (up to
                # the limit) alive until the cyclic GC, which runs seldom in an actor.
                conn._fut = None
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
        idle = self._idle.get(conn.key)
        if idle is None:
            self._idle[conn.key] = [conn]
        else:
            idle.append(conn)

    async def _open(self, key: Key, t: Timed, deadline: float) -> H1Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            addrs = await asyncio.wait_for(self._resolve(host, port), deadline - perf_counter())
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
                            loop.sock_connect(sock, addr), deadline - perf_counter()
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
                        deadline - perf_counter(),
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
