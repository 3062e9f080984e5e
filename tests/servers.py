"""Real test targets on 127.0.0.1: an aiohttp server with known delays and hostile routes.

Each runs on its own event loop in a daemon thread so tests, the runner and subprocess
CLIs can all reach it. Every route counts what it served, so tests compare a load
tester's http_reqs with what the server really saw.
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import textwrap
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from cli import run_cli


class KnownServer:
    """/fast sleeps 10 ms, /slow 200 ms; /status/N answers N; hostile routes for errors."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._raw: asyncio.base_events.Server | None = None
        self.raw_port = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def total(self) -> int:
        return sum(v for k, v in self.counts.items() if not k.startswith("_"))

    def __enter__(self) -> KnownServer:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: Any) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        fut.result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/fast", self._delay(0.010, "fast"))
        app.router.add_get("/slow", self._delay(0.200, "slow"))
        app.router.add_post("/echo", self._echo)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/hit/{name}", self._hit)
        app.router.add_get("/setcookie", self._setcookie)
        app.router.add_get("/hang", self._delay(3600.0, "hang"))
        app.router.add_get("/huge", self._huge)
        app.router.add_get("/reset", self._reset)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._raw = await asyncio.start_server(self._garbage, "127.0.0.1", 0)
        self.raw_port = self._raw.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._raw is not None:
            self._raw.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _delay(self, seconds: float, name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            self.counts[name] += 1
            await asyncio.sleep(seconds)
            return web.Response(text=name)

        return handler

    async def _echo(self, request: web.Request) -> web.Response:
        self.counts["echo"] += 1
        return web.Response(body=await request.read(), content_type="application/json")

    async def _hit(self, request: web.Request) -> web.Response:
        """Counts under "hit:<name>", so one server tells scenarios apart."""
        self.counts["hit:" + request.match_info["name"]] += 1
        return web.Response(text="ok")

    async def _setcookie(self, request: web.Request) -> web.Response:
        """Sets cookie ``sess`` to ``?v=`` with attributes that name paths and hosts a
        later request's URL and ``name`` tag also hold (Path=/hit, Domain=127.0.0.1)."""
        self.counts["setcookie"] += 1
        resp = web.Response(text="set")
        value = request.query.get("v", "")
        resp.headers["Set-Cookie"] = (
            f"sess={value}; Path=/hit; Domain=127.0.0.1; Max-Age=60; SameSite=Lax"
        )
        return resp

    async def _status(self, request: web.Request) -> web.Response:
        self.counts["status"] += 1
        return web.Response(status=int(request.match_info["code"]), text="x")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        self.counts["huge"] += 1
        resp = web.StreamResponse()
        await resp.prepare(request)
        block = b"\0" * 65536
        for _ in range(800):  # 50 MiB, streamed
            await resp.write(block)
        await resp.write_eof()
        return resp

    async def _reset(self, request: web.Request) -> web.Response:
        self.counts["reset"] += 1
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def _garbage(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts["_garbage"] += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        writer.close()


def veza(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the veza-ray CLI to the end (tests/cli.py ``run_cli``)."""
    return run_cli(*args, env=env)


def write_script(tmp_path: Path, text: str, name: str = "scenario.py") -> str:
    """Write a dedented scenario file into tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)
