"""The dashboard's HTTP server: aiohttp on a thread and event loop of its own.

The driver's loop only hands it a summary dict (``publish``); rendering and writing to
every open page happen here, so no number of browser tabs slows the driver. Routes:
``GET /`` the page, ``GET /events`` server-sent events, ``GET /v1/status`` and
``PATCH /v1/status`` as k6's REST API (``{"data":{"attributes":{"stopped":true}}}``
stops the test). Bound to anything but loopback, PATCH needs the run's token
(``Authorization: Bearer``); without it the page is read-only. ``close`` sends the last
state, ends every event stream and stops the server, so an open tab never holds the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from veza_ray.core.guards import SECRETS, is_loopback
from veza_ray.reports.dashboard_page import OPEN, TOKEN, event, live_page

_END = b"event: end\ndata: {}\n\n"
RENDER_SHARE = 0.2  # at most this share of the wall time goes to rendering states


class DashboardServer:
    """One run's dashboard server; ``start`` returns once it listens (or raises OSError)."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str | None,
        period_s: float,
        on_stop: Callable[[str], None],
    ) -> None:
        self.host, self.port, self.token, self.period_s = host, port, token, period_s
        self.on_stop = on_stop
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="veza-ray-dashboard", daemon=True)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.clients: set[asyncio.Queue[bytes | None]] = set()
        self.summary: Mapping[str, Any] | None = None
        self.seq = 0
        self.cached: tuple[int, bytes] = (-1, b"")
        self.status: dict[str, Any] = {"running": True, "stopped": False, "vus": 0, "vus_max": 0}
        self.stop_asked = False
        self.render_s: list[float] = []  # time spent rendering each published state
        self.clients_max = 0
        self.runner: web.AppRunner | None = None
        self.next_render_at = 0.0
        self.deferred: asyncio.TimerHandle | None = None

    # ---- the driver's side (any thread) -------------------------------------------------

    def start(self, wait_s: float = 10.0) -> int:
        """Listen; the bound port (``port`` 0 picks a free one)."""
        self.thread.start()
        if not self.ready.wait(wait_s):
            raise OSError(f"the dashboard did not start listening within {wait_s:g} s")
        if self.error is not None:
            raise OSError(str(self.error))
        return self.port

    def publish(self, summary: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        """A new state of the run (rendered here only if some page is open)."""
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self.loop.call_soon_threadsafe(self._publish, summary, dict(status))

    def close(self, summary: Mapping[str, Any] | None, wait_s: float = 5.0) -> None:
        """Send the final state, end every stream, stop listening; bounded by ``wait_s``."""
        if not self.thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(summary), self.loop)
        with contextlib.suppress(Exception):
            fut.result(wait_s)
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(wait_s)

    def cpu_seconds(self) -> float | None:
        """CPU time the server's thread has used so far (rendering, streaming), or None."""
        ident = self.thread.ident
        if ident is None or not self.thread.is_alive():
            return None
        try:
            return round(time.clock_gettime(time.pthread_getcpuclockid(ident)), 4)
        except (OSError, AttributeError):
            return None

    # ---- the server's thread ------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported by start()
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _listen(self) -> None:
        app = web.Application(middlewares=[self._host_guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/events", self._events)
        app.router.add_get("/v1/status", self._get_status)
        app.router.add_patch("/v1/status", self._patch_status)
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    def _publish(self, summary: Mapping[str, Any], status: dict[str, Any]) -> None:
        self.summary, self.seq = summary, self.seq + 1
        self.status.update(status)
        self._push()

    def _push(self) -> None:
        """Render and send the latest state, at most ``RENDER_SHARE`` of this thread's time:
        a run too large to render every period (hundreds of scenarios) is sent less often,
        so the renderer never takes the driver's share of the interpreter."""
        self.deferred = None
        if not self.clients or self.cached[0] == self.seq:
            return
        wait = self.next_render_at - self.loop.time()
        if wait > 0:
            self.deferred = self.loop.call_later(wait, self._push)
            return
        t0 = self.loop.time()
        self._broadcast(self._frame())
        self.next_render_at = t0 + (self.loop.time() - t0) / RENDER_SHARE

    def _frame(self) -> bytes:
        """The latest state as one SSE frame, rendered once per state however many pages."""
        if self.cached[0] != self.seq:
            t0 = time.perf_counter()
            data = event(self._redacted(), self.seq) if self.summary is not None else {}
            frame = b"event: update\ndata: " + orjson.dumps(data) + b"\n\n"
            self.render_s.append(time.perf_counter() - t0)
            del self.render_s[:-2000]
            self.cached = (self.seq, frame)
        return self.cached[1]

    def _redacted(self) -> Mapping[str, Any]:
        """The summary as the page may show it: user data, secrets hidden as in the report
        (the page's own script is not passed through the redactor: it is not user data)."""
        redacted: Mapping[str, Any] = SECRETS.redact_obj(self.summary or {})
        return redacted

    def _broadcast(self, frame: bytes | None) -> None:
        """``frame`` to every open stream (None ends them)."""
        for q in self.clients:
            if q.qsize() < 4:  # a stalled page skips states instead of holding memory
                q.put_nowait(frame)

    async def _shutdown(self, summary: Mapping[str, Any] | None) -> None:
        self.status.update(running=False)
        if self.deferred is not None:
            self.deferred.cancel()
        if summary is not None:
            self.summary, self.seq = summary, self.seq + 1
            self._broadcast(self._frame())
        self._broadcast(None)
        for _ in range(50):  # let the streams write their last frame (bounded)
            if not self.clients:
                break
            await asyncio.sleep(0.02)
        if self.runner is not None:
            await self.runner.cleanup()

    @web.middleware
    async def _host_guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Bound to loopback, answer only requests addressed to a loopback name: a web page
        elsewhere cannot read the run through a DNS name rebound to 127.0.0.1."""
        if is_loopback(self.host):
            name = request.url.host or ""
            if not is_loopback(name):
                return _error(403, "this dashboard answers only to a loopback address")
        resp: web.StreamResponse = await handler(request)
        return resp

    # ---- handlers -----------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        control = OPEN if self.token is None else TOKEN
        summary = self._redacted() if self.summary is not None else None
        html = live_page(summary, control, self.period_s)
        return web.Response(text=html, content_type="text/html", headers=_NO_STORE)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={**_NO_STORE, "Content-Type": "text/event-stream"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.clients.add(q)
        self.clients_max = max(self.clients_max, len(self.clients))
        try:
            await resp.write(b"retry: 2000\n\n")
            if self.summary is not None:
                await resp.write(self._frame())
            if not self.status["running"]:
                await resp.write(_END)
                return resp
            while True:
                frame = await q.get()
                if frame is None:
                    await resp.write(_END)
                    break
                await resp.write(frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.clients.discard(q)
        return resp

    def _status_doc(self) -> dict[str, Any]:
        s = self.status
        return {
            "data": {
                "type": "status",
                "id": "default",
                "attributes": {
                    "status": 7 if not s["running"] else 4,  # k6's execution stages
                    "paused": False,
                    "vus": s.get("vus", 0),
                    "vus-max": s.get("vus_max", 0),
                    "stopped": bool(s.get("stopped")),
                    "running": bool(s["running"]),
                    "tainted": bool(s.get("tainted")),
                },
            }
        }

    async def _get_status(self, request: web.Request) -> web.Response:
        return web.json_response(self._status_doc(), headers=_NO_STORE)

    async def _patch_status(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        try:
            body = orjson.loads(await request.read())
            attrs = body["data"]["attributes"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _error(400, 'send {"data":{"attributes":{"stopped":true}}} as k6 does')
        if not isinstance(attrs, dict) or attrs.get("paused"):
            return _error(400, "only stopping is supported: {'stopped': true}")
        if attrs.get("stopped") is True and not self.stop_asked and self.status["running"]:
            self.stop_asked = True
            self.status["stopped"] = True
            self.on_stop("the web dashboard")
        return web.json_response(self._status_doc(), headers=_NO_STORE)

    def _refusal(self, request: web.Request) -> web.Response | None:
        """A control action from another origin, or without the token off loopback."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return _error(403, "control actions are refused from another origin")
        if request.content_type != "application/json":
            return _error(415, "send the body as application/json")
        if self.token is None:
            return None
        given = request.headers.get("Authorization", "")
        want = f"Bearer {self.token}"
        if not hmac.compare_digest(given.encode(), want.encode()):
            return _error(401, "this dashboard is bound off loopback: control needs its token")
        return None


_NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, detail: str) -> web.Response:
    doc = {"errors": [{"status": str(status), "detail": SECRETS.redact(detail)}]}
    return web.json_response(doc, status=status, headers=_NO_STORE)
