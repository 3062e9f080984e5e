"""Kept response bodies are bounded: an endless chunked body fails the request with code
1702 and drops the connection, and memory stays flat however long the server goes on.

A real asyncio server on 127.0.0.1 streams chunks until the client goes away (bounded at
1 GiB per connection); the process's resident memory is sampled while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from veza_ray.core.durations import DEFAULT_MAX_BODY
from veza_ray.core.metric_types import Tags
from veza_ray.core.options import parse_options
from veza_ray.engine.h1 import BODY_TOO_LARGE_CODE
from veza_ray.engine.http import ClientHub, HostGuard, HttpClient, Timings

CHUNK = b"x" * 65536
CAP = 1 << 30  # the server stops after this much per connection: every loop is bounded


class Endless:
    def __init__(self) -> None:
        self.connections = 0
        self.sent: list[int] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        sent = 0
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
            while sent < CAP:
                writer.write(frame)
                sent += len(CHUNK)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.sent.append(sent)
            writer.close()


@contextlib.asynccontextmanager
async def endless() -> AsyncIterator[Endless]:
    target = Endless()
    server = await asyncio.start_server(target.handle, "127.0.0.1", 0)
    target.port = server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        server.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class Samples:
    def __init__(self) -> None:
        self.rows: list[tuple[int, bool, int]] = []

    def __call__(
        self,
        method: str,
        name: str,
        status: int,
        ok: bool,
        code: int,
        tags: Tags,
        timings: Timings,
        sent: int,
        received: int,
    ) -> None:
        self.rows.append((status, ok, code))


async def _sample_rss(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.02)


def run_requests(
    limit: int | None, hub_limit: int, count: int
) -> tuple[list[Any], Samples, Endless, float]:
    results: list[Any] = []
    rec = Samples()
    peak = [0.0]
    box: list[Endless] = []

    async def main() -> None:
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(peak, stop))
        hub = ClientHub(max_body=hub_limit)
        client = HttpClient(hub, rec, False, timeout=120.0, guard=HostGuard(frozenset()))
        try:
            async with endless() as srv:
                box.append(srv)
                for _ in range(count):
                    kw: dict[str, Any] = {}
                    if limit is not None:
                        kw["max_response_body_size"] = limit
                    results.append(await client.get(f"http://127.0.0.1:{srv.port}/", **kw))
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await sampler
            await hub.close()

    asyncio.run(main())
    return results, rec, box[0], peak[0]


def test_endless_chunked_body_fails_with_1702_and_memory_stays_flat() -> None:
    before = rss_mb()
    results, rec, srv, peak = run_requests(None, DEFAULT_MAX_BODY, 4)
    for res in results:
        assert (res.status, res.error_code, res.body) == (0, BODY_TOO_LARGE_CODE, None)
        assert "larger than 33554432 bytes" in res.error
    # counted: one failed sample each, tagged with the code
    assert rec.rows == [(0, False, BODY_TOO_LARGE_CODE)] * 4
    # the connection is dropped each time: a fresh one per request, none read to the end
    assert srv.connections == 4
    assert all(s < CAP for s in srv.sent)
    assert all(s >= DEFAULT_MAX_BODY for s in srv.sent)
    assert peak < 300, f"RSS went to {peak:.0f} MB (from {before:.0f} MB)"


def test_per_request_limit_overrides_the_runs() -> None:
    results, _, srv, _ = run_requests(1 << 20, DEFAULT_MAX_BODY, 2)
    assert [r.error_code for r in results] == [BODY_TOO_LARGE_CODE] * 2
    assert all("larger than 1048576 bytes" in r.error for r in results)
    assert all(s < 64 << 20 for s in srv.sent)


def test_run_option_sets_the_limit() -> None:
    opts = parse_options({"vus": 1, "iterations": 1, "maxResponseBodySize": "2MiB"})
    assert opts.max_response_body_size == 2 << 20
    assert parse_options({"vus": 1, "iterations": 1}).max_response_body_size == DEFAULT_MAX_BODY
    results, _, _, _ = run_requests(None, opts.max_response_body_size, 1)
    assert "larger than 2097152 bytes" in results[0].error


def test_a_bad_size_is_refused_by_name() -> None:
    import pytest

    from veza_ray.core.options import OptionsError

    with pytest.raises(OptionsError, match=r"options\.maxResponseBodySize.*12 parsecs"):
        parse_options({"vus": 1, "iterations": 1, "maxResponseBodySize": "12 parsecs"})
