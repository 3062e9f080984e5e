"""http.batch(): parallel requests of one VU, in order, within batch/batchPerHost, as k6.

A server on 127.0.0.1 answers /slow/N after 150 ms with status 200+N and records the most
requests it had in flight at once. The same k6 script runs in real k6 and, converted, in
veza-ray: both must keep the responses in request order (the script's check) and never
have more than ``batchPerHost`` (or ``batch``) requests in flight.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from k6run import both, convert, run_tool

pytestmark = pytest.mark.ray

SCRIPT = """
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  batch: BATCH,
  batchPerHost: PER_HOST,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const reqs = [];
  for (let i = 0; i < 8; i++) {
    reqs.push(['GET', `${__ENV.URL}/slow/${i}`, null, { tags: { name: 'slow' } }]);
  }
  const res = http.batch(reqs);
  check(res, {
    'in order': (r) => r.map((x) => x.status).join(',') === '200,201,202,203,204,205,206,207',
  });
  const named = http.batch({ a: { method: 'GET', url: `${__ENV.URL}/slow/9` }, b: `${__ENV.URL}/slow/1` });
  check(named, { 'by name': (n) => n.a.status === 209 && n.b.status === 201 });
}
"""


class InFlight:
    """Counts requests in flight on its own loop and thread; ``peak`` is the most seen."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.total = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def slow(self, request: web.Request) -> web.Response:
        self.now += 1
        self.total += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.15)
        finally:
            self.now -= 1
        return web.Response(status=200 + int(request.match_info["n"]), text="x")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/slow/{n}", self.slow)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> InFlight:
        self.thread.start()
        self.ready.wait()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


@pytest.mark.parametrize(("batch", "per_host", "peak"), [(20, 2, 2), (3, 0, 3)])
def test_batch_order_and_limits_as_k6(tmp_path: Path, batch: int, per_host: int, peak: int) -> None:
    source = SCRIPT.replace("PER_HOST", str(per_host)).replace("BATCH", str(batch))
    js, py = convert(tmp_path, "batch", source)
    for tool, cmd in both(js, py, 1).items():
        with InFlight() as server:
            proc = run_tool(cmd, "-e", f"URL=http://127.0.0.1:{server.port}", cwd=tmp_path)
            seen = (server.peak, server.total)
        assert proc.returncode == 0, (tool, proc.stdout[-2000:] + proc.stderr[-2000:])
        assert seen == (peak, 10), (tool, seen)
