"""Every answer the driver reads from a server it does not control: a size cap and a deadline.

A remote-write endpoint, the Ray Jobs API or the health URL can answer with an endless
body, a body trickled a byte a second, a Content-Length that never arrives or chunks
without end. Read whole, any of them holds the driver for ever or takes its memory. So
each of those reads goes through ``read_capped`` (blocking file-likes: urllib, requests)
or, for the asyncio pre-flight, the h1 client's own body limit with these same caps and
one total deadline. Past the cap or the deadline the read fails with ``ReadLimit``; the
caller turns that into a failed push or a failed read, never into the run's memory.

The caps are what each answer needs, with room: a remote-write answer is empty or one
error line; a health page is small; a Jobs API answer is JSON about one job; a job's log
carries the run's own output and, at its end, the files it brought back.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

PUSH_ANSWER_CAP = 64 * 1024
HEALTH_ANSWER_CAP = 1024 * 1024
API_ANSWER_CAP = 16 * 1024 * 1024
JOB_LOG_CAP = 256 * 1024 * 1024
CHUNK = 64 * 1024

T = TypeVar("T")


class ReadLimit(Exception):
    """An answer passed its size cap or its deadline; the message says which and how much.
    ``too_big`` tells them apart: a slow answer may be retried, an oversized one not."""

    def __init__(self, message: str, too_big: bool = False) -> None:
        super().__init__(message)
        self.too_big = too_big


def size_text(n: int) -> str:
    """A byte count as people read it (64 KiB, 16 MiB)."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def too_big(what: str, cap: int) -> ReadLimit:
    return ReadLimit(f"{what} larger than {size_text(cap)}: not read further", too_big=True)


def too_slow(what: str, seconds: float, got: int) -> ReadLimit:
    return ReadLimit(f"{what} not complete within {seconds:g} s ({got} bytes read): given up")


def read_capped(
    read1: Callable[[int], bytes],
    cap: int,
    deadline: float,
    what: str,
    set_timeout: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """Read to the end with ``read1`` (returns after one receive, b"" at the end) while at
    most ``cap`` bytes arrived and the monotonic ``deadline`` has not passed. Each wait for
    a receive is cut to the time left when ``set_timeout`` is given; otherwise the
    stream's own per-receive timeout bounds the overshoot."""
    chunks: list[bytes] = []
    got = 0
    start = clock()
    while True:
        left = deadline - clock()
        if left <= 0:
            raise too_slow(what, deadline - start, got)
        if set_timeout is not None:
            set_timeout(left)
        try:
            chunk = read1(min(CHUNK, cap + 1 - got))
        except TimeoutError:
            raise too_slow(what, deadline - start, got) from None
        if not chunk:
            return b"".join(chunks)
        got += len(chunk)
        if got > cap:
            raise too_big(what, cap)
        chunks.append(chunk)


def socket_timeout_setter(resp: Any) -> Callable[[float], None] | None:
    """A way to cut the per-receive wait of an http.client response (or urllib3's, which
    wraps one) to the time left; None when the socket cannot be reached."""
    fp = getattr(resp, "_fp", resp)  # urllib3.HTTPResponse wraps an http.client one
    raw = getattr(getattr(fp, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if not isinstance(sock, socket.socket):
        return None

    def set_timeout(left: float) -> None:
        with contextlib.suppress(OSError):  # closed once the answer ended: nothing to wait
            sock.settimeout(max(0.001, left))

    return set_timeout


def call_within(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` on a helper thread, its result or its exception; ReadLimit when it has not
    returned after ``seconds``. For the part of an exchange ``read_capped`` cannot see (a
    head trickled a byte at a time): the thread is left to the server's close, its memory
    bounded by http.client's own head limits (100 lines of 64 KiB)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="veza-ray-bounded-read", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ReadLimit(f"{what}: no complete answer within {seconds:g} s: given up")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


class Deadline:
    """One total deadline for a blocking exchange, head included: when it passes, the
    socket (once ``arm``ed) is shut down, which wakes a receive blocked in it, so a server
    that trickles even its head cannot hold the thread. ``fired`` says it was the cause."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def check(self, what: str, got: int = 0) -> None:
        """Raise ReadLimit if the deadline ended the exchange (a shut socket reads as EOF)."""
        if self.fired:
            raise too_slow(what, self.seconds, got)

    def arm(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


class WatchedOpener:
    """A urllib opener (no proxy) whose connections are armed on the current ``Deadline``;
    one exchange at a time (the caller's thread)."""

    def __init__(self) -> None:
        self.watch: Deadline | None = None
        owner = self

        def conn_class(base: type[http.client.HTTPConnection]) -> Any:
            class Watched(base):  # type: ignore[valid-type,misc]
                def connect(self) -> None:
                    super().connect()
                    if owner.watch is not None and self.sock is not None:
                        owner.watch.arm(self.sock)

            return Watched

        plain, tls = conn_class(http.client.HTTPConnection), conn_class(http.client.HTTPSConnection)

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req: Any) -> Any:
                return self.do_open(plain, req)

        class Https(urllib.request.HTTPSHandler):
            def https_open(self, req: Any) -> Any:
                return self.do_open(tls, req, context=getattr(self, "_context", None))

        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), Http(), Https())

    def open(self, req: urllib.request.Request, watch: Deadline) -> Any:
        self.watch = watch
        return self.opener.open(req, timeout=watch.seconds)
