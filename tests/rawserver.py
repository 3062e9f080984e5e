"""Byte-exact HTTP/1.1 servers on 127.0.0.1 for comparing clients with real k6.

``asyncio.start_server`` with nothing between the bytes and the client: a ``Serve``
function gets each request as read (``Seen``) and answers with exact bytes, a clean close
(FIN), a reset (RST) or silence. Shared by the conformance suite (tests/conformance/wire.py:
one server per case) and the differential harness (tests/differential/target.py: one
seeded server whose behaviour per request comes from the request's path).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Seen:
    conn: int  # 1-based connection number on this case's server
    nth: int  # 1-based request number on that connection
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


class Conn:
    """One accepted connection, as a case's ``serve`` sees it."""

    def __init__(self, n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.n = n
        self.reader = reader
        self.writer = writer
        self.closed = False

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        """A clean close (FIN) after everything written."""
        self.closed = True
        await self.writer.drain()
        self.writer.close()

    async def reset(self) -> None:
        """A reset (RST): what was written is given a moment to arrive first."""
        self.closed = True
        await self.writer.drain()
        await asyncio.sleep(0.2)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hang(self) -> None:
        """Say nothing more until the client goes away."""
        self.closed = True
        await self.writer.drain()
        while await self.reader.read(65536):
            pass
        self.writer.close()


Serve = Callable[[Conn, Seen], Awaitable[None]]


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, list[tuple[str, str]], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    body = b""
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    if any(k.lower() == "transfer-encoding" for k, _ in headers):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if not size:
                break
            body += chunk[:-2]
    elif length:
        body = await reader.readexactly(length)
    return method, target, headers, body


class CaseServer:
    """One case's server: records what it reads, answers with ``serve``."""

    def __init__(self, serve: Serve, tls: ssl.SSLContext | None) -> None:
        self.serve = serve
        self.tls = tls
        self.seen: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()

    def take(self) -> tuple[list[Seen], int]:
        seen, conns = self.seen, self.connections
        self.seen, self.connections = [], 0
        return seen, conns

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        conn = Conn(self.connections, reader, writer)
        nth = 0
        try:
            while not conn.closed:
                try:
                    method, target, headers, body = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                nth += 1
                seen = Seen(conn.n, nth, method, target, headers, body)
                self.seen.append(seen)
                await self.serve(conn, seen)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()


def response(body: bytes = b"ok", status: str = "200 OK", headers: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\nContent-Length: %d\r\n" % len(body)
        + headers
        + b"\r\n"
        + body
    )


class LoopThread:
    """An event loop in a daemon thread, so servers on it serve subprocess clients (k6,
    the veza-ray CLI) while the test waits on them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
