"""A Jobs API that refuses our credentials (401/403, as Ray's token auth answers) is told
apart by type (``jobsapi.JobsAuthError`` with the status), not by the text of an
exception, and `submit` says what to set.

A real aiohttp server on 127.0.0.1 answers every request with the status under test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "scenarios" / "smoke.py")


@contextmanager
def refusing_head(status: int) -> Iterator[tuple[str, list[str]]]:
    """(URL, the paths asked) of a dashboard that answers ``status`` to everything."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}
    asked: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({"error": "unauthenticated"}, status=status)

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ready.wait()
    try:
        yield f"http://127.0.0.1:{box['port']}", asked
    finally:
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        t.join()


@pytest.mark.parametrize("status", [401, 403])
def test_the_client_raises_a_typed_auth_error_with_the_status(status: int) -> None:
    from veza_ray.cluster.jobsapi import BoundedJobClient, JobsAuthError

    with refusing_head(status) as (url, asked), pytest.raises(JobsAuthError) as caught:
        BoundedJobClient(url)  # the SDK checks the version first
    assert caught.value.status == status
    assert str(caught.value) == f"GET /api/version answered {status} (authentication failed)"
    assert asked == ["/api/version"]


@pytest.mark.parametrize("status", [401, 403])
def test_submit_says_what_to_set_when_the_head_refuses(status: int) -> None:
    token = "cnry-raytok-7d2e"
    with refusing_head(status) as (url, asked):
        res = run_cli("submit", SMOKE, "--address", url, env={"RAY_AUTH_TOKEN": token}, timeout=300)
    assert res.returncode == 111, res.stderr
    assert f"the Ray Jobs API at {url} refused the request" in res.stderr
    assert f"answered {status} (authentication failed)" in res.stderr
    # said in words: "RAY_AUTH_MODE=token" would come out redacted as a NAME=value pair
    assert "set RAY_AUTH_MODE to token and RAY_AUTH_TOKEN to the cluster's token" in res.stderr
    assert token not in res.stdout + res.stderr
    assert asked == ["/api/version"]  # nothing submitted after the refusal
