"""A CLI run as a child process, stopped or cut off on purpose, and what it leaves behind.

For the signal and closed-stream tests: a counting target that tells when its first
request came (a readiness signal, never a fixed sleep), the run's own Ray temp dir as a
marker of every process it started, and the checks that after the driver exited no Ray
process of that run is alive and no request reached the target.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from aiohttp import web


class CountingTarget:
    """/hit counts (and sets ``first_hit``); /api/v1/health sets ``health_seen`` and holds
    its answer ``health_hold_s`` seconds (0: answers at once)."""

    def __init__(self, health_hold_s: float = 0.0) -> None:
        self.hits = 0
        self.first_hit = threading.Event()
        self.health_seen = threading.Event()
        self.health_hold_s = health_hold_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CountingTarget:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def settled_hits(self) -> int:
        """The count once the server's loop has handled what already reached it."""
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result()
        return self.hits

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/hit", self._hit)
        app.router.add_get("/api/v1/health", self._health)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hit(self, request: web.Request) -> web.Response:
        self.hits += 1
        self.first_hit.set()
        return web.Response(text="ok")

    async def _health(self, request: web.Request) -> web.Response:
        self.health_seen.set()
        if self.health_hold_s:
            await asyncio.sleep(self.health_hold_s)
        return web.Response(text="ok")


@contextmanager
def ray_marker() -> Iterator[str]:
    """A short temp dir for RAY_TMPDIR (AF_UNIX paths are short): every Ray process the
    run starts inherits it, which is how ``leftovers`` finds them."""
    path = tempfile.mkdtemp(prefix="vr", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def leftovers(marker: str) -> list[str]:
    """Live processes of one run's Ray (Ray's workers and agents rename themselves, so the
    environment tells, not the command line)."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        try:
            env = p.environ()
        except psutil.Error:
            continue
        if env.get("RAY_TMPDIR") == marker or marker in " ".join(p.info.get("cmdline") or []):
            found.append(" ".join(p.info.get("cmdline") or [p.name()]))
    return found


def start_cli(
    *args: str,
    marker: str,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
    env_extra: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[str]:
    """``veza-ray ARGS`` as a user starts it, with its Ray marked by ``marker``."""
    env = {**os.environ, **(env_extra or {}), "RAY_TMPDIR": marker}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "veza_ray.cli", *args],
        stdout=stdout,
        stderr=stderr,
        text=True,
        env=env,
        **popen,
    )


def read_until(stream: IO[str], needle: str, seen: list[str]) -> None:
    """Read lines until one contains ``needle`` (bounded: the run ends by its plan)."""
    for line in stream:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed: {''.join(seen)[-3000:]}")


def wait_first_hit(target: CountingTarget, proc: subprocess.Popen[str]) -> None:
    """Until the target saw its first request, or the run ended without one."""
    while not target.first_hit.wait(0.1):
        assert proc.poll() is None, "the run ended before any request reached the target"
