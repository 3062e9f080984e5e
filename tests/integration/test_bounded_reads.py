"""Every answer the driver reads has a size cap and a deadline (veza_ray.readcap).

Each reader (the Prometheus remote-write sender, the pre-flight, the Ray Jobs API client)
meets the four hostile answers of tests/hostile.py: an endless body, a byte a second, a
Content-Length that never comes, chunks without end. Each must fail that read with a
message naming the cap or the deadline, let go of the connection, and keep this process's
RSS growth within a bound derived from the cap (measured with psutil while it reads).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import pytest
from hostile import MODES, Hostile

from veza_ray.cluster.preflight import PreflightFailed, check
from veza_ray.outputs.prometheus import Sender
from veza_ray.readcap import (
    API_ANSWER_CAP,
    CHUNK,
    HEALTH_ANSWER_CAP,
    PUSH_ANSWER_CAP,
    ReadLimit,
    read_capped,
)

# What the interpreter, a thread stack and the allocator's rounding may add around a read.
SLACK = 24 * 1024 * 1024
POINTS = [((("__name__", "k6_vus"), ("testid", "t")), 1.0)]
SIZE_MODES = ("endless", "chunked")  # these pass the cap; the other two the deadline


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """RSS growth over the block's baseline, sampled every 10 ms: [peak] after the block."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], proc.memory_info().rss - base)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield peak
    finally:
        done.set()
        t.join()
        peak[0] = max(peak[0], proc.memory_info().rss - base)


def _assert_failed_for_the_right_reason(mode: str, message: str, cap_text: str) -> None:
    if mode in SIZE_MODES:
        assert f"larger than {cap_text}" in message, message
    else:
        assert "within" in message, message


@pytest.mark.parametrize("mode", MODES)
def test_remote_write_answer_is_capped_and_timed(mode: str) -> None:
    with Hostile(mode) as h, peak_growth() as peak:
        sender = Sender(h.url + "/api/v1/write", (), lambda s: None, timeout=1.0)
        sender.submit(POINTS, 1000)
        stats = sender.close(1.5)
        assert h.gone.wait(30), "the sender never let go of the connection"
    assert stats.sent_batches == 0 and stats.dropped_samples == 1
    _assert_failed_for_the_right_reason(mode, stats.last_error, "64 KiB")
    assert peak[0] < PUSH_ANSWER_CAP + CHUNK + SLACK, f"RSS grew by {peak[0]} bytes"
    if mode in SIZE_MODES:
        assert h.served >= PUSH_ANSWER_CAP  # the endpoint really sent past the cap


@pytest.mark.parametrize("mode", MODES)
def test_preflight_answer_is_capped_and_timed(mode: str) -> None:
    with Hostile(mode) as h, peak_growth() as peak:
        with pytest.raises(PreflightFailed) as info:
            check(h.url + "/health", frozenset(), timeout=1.0)
        assert h.gone.wait(30), "the pre-flight never let go of the connection"
    _assert_failed_for_the_right_reason(mode, str(info.value), "1 MiB")
    assert peak[0] < 2 * HEALTH_ANSWER_CAP + SLACK, f"RSS grew by {peak[0]} bytes"


VERSION = json.dumps({"version": "4", "ray_version": "2.60.0", "ray_commit": "x"}).encode()


@pytest.mark.parametrize("mode", MODES)
def test_jobs_api_answer_is_capped_and_timed(mode: str, monkeypatch: Any) -> None:
    from veza_ray.cluster import jobsapi

    monkeypatch.setattr(jobsapi, "API_DEADLINE_S", 2.0)
    with Hostile(mode, before={"/api/version": VERSION}) as h, peak_growth() as peak:
        client = jobsapi.BoundedJobClient(h.url)
        with pytest.raises(ReadLimit) as info:
            client.get_job_info("veza-ray-x")
        assert h.gone.wait(30), "the client never let go of the connection"
    _assert_failed_for_the_right_reason(mode, str(info.value), "16 MiB")
    assert peak[0] < 2 * API_ANSWER_CAP + SLACK, f"RSS grew by {peak[0]} bytes"


def _reader(data: bytes, step: int) -> Callable[[int], bytes]:
    pos = [0]

    def read1(n: int) -> bytes:
        chunk = data[pos[0] : pos[0] + min(n, step)]
        pos[0] += len(chunk)
        return chunk

    return read1


def test_read_capped_takes_exactly_the_cap_and_refuses_one_byte_more() -> None:
    assert read_capped(_reader(b"a" * 100, 7), 100, float("inf"), "x") == b"a" * 100
    with pytest.raises(ReadLimit) as info:
        read_capped(_reader(b"a" * 101, 7), 100, float("inf"), "the answer")
    assert info.value.too_big and "the answer larger than 100 bytes" in str(info.value)


def test_read_capped_stops_at_the_deadline_between_receives() -> None:
    ticks = iter(range(100))
    with pytest.raises(ReadLimit) as info:
        read_capped(_reader(b"a" * 1000, 1), 10_000, 5.0, "the answer", clock=lambda: next(ticks))
    assert not info.value.too_big and "not complete within" in str(info.value)


# ---- the bounded Jobs client still does its job against a well-behaved Jobs API ---------

JOB = {
    "type": "SUBMISSION",
    "job_id": None,
    "submission_id": "veza-ray-x",
    "status": "SUCCEEDED",
    "entrypoint": "true",
    "message": "done",
    "error_type": None,
    "start_time": 0,
    "end_time": 1,
    "metadata": {},
    "runtime_env": {},
}


@contextmanager
def jobs_api(tail: list[str], close_tail: bool) -> Iterator[str]:
    """A real aiohttp server with the four Jobs API routes submit reads; the live log sends
    ``tail`` then closes, or (``close_tail`` False) stays open and silent until the test
    ends, as a dashboard would whose job has ended."""
    import asyncio

    from aiohttp import web

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    box: dict[str, Any] = {}

    async def version(_: web.Request) -> web.Response:
        return web.Response(body=VERSION, content_type="application/json")

    async def info(_: web.Request) -> web.Response:
        return web.json_response(JOB)

    async def logs(_: web.Request) -> web.Response:
        return web.json_response({"logs": "".join(tail)})

    async def follow(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for line in tail:
            await ws.send_str(line)
        if not close_tail:
            await stop.wait()
        await ws.close()
        return ws

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/api/version", version)
        app.router.add_get("/api/jobs/{id}", info)
        app.router.add_get("/api/jobs/{id}/logs", logs)
        app.router.add_get("/api/jobs/{id}/logs/tail", follow)
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
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        t.join()


async def _follow(client: Any) -> list[str]:
    return [chunk async for chunk in client.tail_job_logs("veza-ray-x")]


@pytest.mark.parametrize("close_tail", [True, False])
def test_bounded_jobs_client_reads_info_logs_and_the_live_log(close_tail: bool) -> None:
    import asyncio

    from veza_ray.cluster.jobsapi import BoundedJobClient

    lines = ["line one\n", "line two\n"]
    with jobs_api(lines, close_tail) as url:
        client = BoundedJobClient(url)
        assert str(client.get_job_info("veza-ray-x").status) in ("SUCCEEDED", "JobStatus.SUCCEEDED")
        assert client.get_job_logs("veza-ray-x") == "line one\nline two\n"
        # A silent socket is left once the job has ended (TAIL_IDLE_S later), not for ever.
        assert asyncio.run(_follow(client)) == lines


@pytest.mark.parametrize("mode", ["endless", "trickle"])
def test_an_error_page_without_end_is_one_receive(mode: str) -> None:
    """A 503 whose page never ends: the sender reads at most 200 bytes of it and retries."""
    with Hostile(mode, status=503) as h, peak_growth() as peak:
        sender = Sender(h.url + "/api/v1/write", (), lambda s: None, timeout=1.0)
        sender.submit(POINTS, 1000)
        stats = sender.close(1.5)
        assert h.gone.wait(30), "the sender never let go of the connection"
    assert stats.sent_batches == 0 and "HTTP 503" in stats.last_error
    assert len(stats.last_error) < 300
    assert peak[0] < PUSH_ANSWER_CAP + CHUNK + SLACK, f"RSS grew by {peak[0]} bytes"
