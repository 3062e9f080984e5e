"""Ways to run the emulator: on the caller's loop, blocking (CLI), or in a thread (tests)."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from types import TracebackType

from aiohttp import web

from .app import build_app
from .config import EmulatorConfig, check_host, format_base_url

# Thousands of VUs connect at once at the start of a run; the default backlog of 128
# drops SYNs and shows up as a latency spike that is the listener's fault, not the API's.
_BACKLOG = 4096


async def start_emulator(
    config: EmulatorConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_public: bool = False,
) -> tuple[web.AppRunner, int]:
    """Serve on the running loop; returns the runner (call ``cleanup()``) and the bound port."""
    check_host(host, allow_public)
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=_BACKLOG)
        await site.start()
        bound = int(runner.addresses[0][1])
    except BaseException:
        await runner.cleanup()
        raise
    return runner, bound


def serve_forever(
    config: EmulatorConfig, host: str, port: int, *, allow_public: bool = False
) -> None:
    """Block serving the emulator until SIGINT or SIGTERM; what ``veza-ray target`` runs."""
    check_host(host, allow_public)

    async def main() -> None:
        runner, bound = await start_emulator(config, host, port, allow_public=allow_public)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            print(
                f"veza-ray target: Veza API emulator on {format_base_url(host, bound)} "
                f"(profile={config.profile} error_rate={config.error_rate} "
                f"reset_rate={config.reset_rate} fail_health={config.fail_health} "
                f"seed={config.seed}); Ctrl-C stops it",
                flush=True,
            )
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await runner.cleanup()

    asyncio.run(main())


class EmulatorThread:
    """The emulator on its own event loop in a daemon thread.

    For tests and ``veza-ray run --demo``: the caller's code (sync, or another event loop)
    drives load while the emulator answers. Use as a context manager, or ``start()`` /
    ``stop()``; with port 0 the bound port is in ``.port`` once started.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_public: bool = False,
        startup_timeout_s: float = 30.0,
    ) -> None:
        check_host(host, allow_public)
        self.config = config if config is not None else EmulatorConfig()
        self.host = host
        self._requested_port = port
        self._allow_public = allow_public
        self._startup_timeout_s = startup_timeout_s
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator thread is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return format_base_url(self.host, self.port)

    def start(self) -> EmulatorThread:
        if self._thread is not None:
            raise RuntimeError("emulator thread already started")
        self._thread = threading.Thread(target=self._run, name="veza-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout_s):
            raise RuntimeError(f"emulator did not start within {self._startup_timeout_s} s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"emulator failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            try:
                runner, port = loop.run_until_complete(
                    start_emulator(
                        self.config,
                        self.host,
                        self._requested_port,
                        allow_public=self._allow_public,
                    )
                )
            except BaseException as exc:  # reported to start() in the caller's thread
                self._error = exc
                self._ready.set()
                return
            self._port = port
            self._loop = loop
            self._ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(runner.cleanup())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the loop, clean up the server, and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if thread.is_alive():
            print("veza-ray: emulator thread did not stop in time", file=sys.stderr)
        self._thread = None
        self._loop = None
        self._port = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
