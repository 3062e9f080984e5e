"""A local HTTP server that answers in the four ways a reader must survive.

``endless``: 200, no length, bytes as fast as the socket takes them; ``trickle``: 200, no
length, one byte a second; ``huge_length``: 200 with a Content-Length of 1 TB, a few
bytes, then nothing; ``chunked``: 200, chunked, chunks as fast as the socket takes them
and never the last one. Every answer is bounded: it stops when the client goes away, and
in any case after ``MAX_BYTES`` bytes or ``MAX_S`` seconds, so no test can leave it
running. ``served`` counts bytes sent; ``gone`` is set when a client went away early.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

MODES = ("endless", "trickle", "huge_length", "chunked")
MAX_BYTES = 8 * 1024**3
MAX_S = 120.0
_BLOCK = b"x" * 65536
_CHUNK = b"%x\r\n" % len(_BLOCK) + _BLOCK + b"\r\n"


class Hostile:
    """``with Hostile("endless") as h: ... h.url``; every path gets the same answer."""

    def __init__(self, mode: str, status: int = 200, before: dict[str, bytes] | None = None):
        assert mode in MODES
        self.mode = mode
        self.status = status
        self.before = before or {}  # path -> a normal 200 JSON answer for that path
        self.served = 0
        self.requests = 0
        self.gone = threading.Event()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Hostile:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in list(self._threads):
            t.join(10)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    part = conn.recv(65536)
                    if not part:
                        return
                    head += part
            except OSError:
                return
            self.requests += 1
            path = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else "/"
            path = path.split("?", 1)[0]
            if path in self.before:
                body = self.before[path]
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
                )
                return
            try:
                self._answer(conn)
            except OSError:
                self.gone.set()

    def _answer(self, conn: socket.socket) -> None:
        status = b"HTTP/1.1 %d Hostile\r\n" % self.status
        start = time.monotonic()

        def more() -> bool:
            return (
                not self._stop.is_set()
                and self.served < MAX_BYTES
                and time.monotonic() - start < MAX_S
            )

        if self.mode == "endless":
            conn.sendall(status + b"Content-Type: text/plain\r\nConnection: close\r\n\r\n")
            while more():
                conn.sendall(_BLOCK)
                self.served += len(_BLOCK)
        elif self.mode == "chunked":
            conn.sendall(status + b"Transfer-Encoding: chunked\r\n\r\n")
            while more():
                conn.sendall(_CHUNK)
                self.served += len(_BLOCK)
        elif self.mode == "huge_length":
            conn.sendall(status + b"Content-Length: 1000000000000\r\n\r\n" + _BLOCK[:100])
            self.served += 100
            while more():  # the rest never comes; wait until the client gives up
                conn.settimeout(1.0)
                try:
                    if conn.recv(1) == b"":
                        self.gone.set()
                        return
                except TimeoutError:
                    continue
        else:  # trickle
            conn.sendall(status + b"Content-Type: text/plain\r\nConnection: close\r\n\r\n")
            while more():
                conn.sendall(b"x")
                self.served += 1
                if self._stop.wait(1.0):
                    return
