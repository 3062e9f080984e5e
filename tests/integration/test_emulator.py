"""The Veza API emulator, served for real on 127.0.0.1 and hit with a real aiohttp client.

Every request loop here is bounded in count, every wait in time; nothing asserts elapsed time.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from veza_ray.emulator import (
    PROFILES,
    STREAM_TRACK_ID,
    EmulatorConfig,
    EmulatorThread,
    serve_forever,
    start_emulator,
)
from veza_ray.emulator.latency import LatencySampler
from veza_ray.emulator.uploads import UploadRegistry

REPO_ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-token"}
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
SEED_QUERIES = ("rock", "jazz", "electronic", "lo-fi", "ambient", "house", "beat")
HLS = f"/api/v1/tracks/{STREAM_TRACK_ID}/hls"
INITIATE = "/api/v1/tracks/upload/initiate"
INIT_BODY = {"total_chunks": 10, "total_size": 10 * 2**20, "filename": "t.mp3"}
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=30)

Scenario = Callable[[aiohttp.ClientSession], Awaitable[None]]


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    """A fresh emulator per test, no added latency (tests check behaviour, not timing)."""
    with EmulatorThread(EmulatorConfig(profile="none")) as emu:
        yield emu


def run_client(emu: EmulatorThread, scenario: Scenario, *, force_close: bool = False) -> None:
    """Run one client scenario against ``emu`` on a private loop, capped at 60 s."""

    async def main() -> None:
        connector = aiohttp.TCPConnector(force_close=force_close)
        async with aiohttp.ClientSession(
            base_url=emu.base_url, timeout=CLIENT_TIMEOUT, connector=connector
        ) as session:
            await scenario(session)

    asyncio.run(asyncio.wait_for(main(), 60))


async def get_json(
    session: aiohttp.ClientSession, path: str, status: int, **kw: Any
) -> dict[str, Any]:
    async with session.get(path, **kw) as resp:
        assert resp.status == status, (path, resp.status, await resp.text())
        assert resp.content_type == "application/json"
        body: dict[str, Any] = await resp.json()
        return body


async def post_json(
    session: aiohttp.ClientSession, path: str, status: int, **kw: Any
) -> dict[str, Any]:
    async with session.post(path, **kw) as resp:
        assert resp.status == status, (path, resp.status, await resp.text())
        assert resp.content_type == "application/json"
        body: dict[str, Any] = await resp.json()
        return body


async def stats_of(session: aiohttp.ClientSession) -> dict[str, Any]:
    return await get_json(session, "/__stats", 200)


def parse_m3u8(text: str) -> tuple[list[str], list[str]]:
    """(tag lines, URI lines) of a playlist; fails unless it starts with #EXTM3U."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "#EXTM3U"
    tags = [line for line in lines if line.startswith("#")]
    uris = [line for line in lines if not line.startswith("#")]
    return tags, uris


# --------------------------------------------------------------------------- health, browse


def test_health_is_ok_and_not_counted_in_total(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        assert await get_json(s, "/api/v1/health", 200) == {"status": "ok"}
        stats = await stats_of(s)
        assert stats["health"] == 1
        assert stats["total"] == 0

    run_client(emulator, scenario)


def test_fail_health_answers_503_while_the_api_still_works() -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        body = await get_json(s, "/api/v1/health", 503)
        assert body["status"] != "ok"
        await get_json(s, f"/api/v1/tracks/{STREAM_TRACK_ID}", 200)

    with EmulatorThread(EmulatorConfig(profile="none", fail_health=True)) as emu:
        run_client(emu, scenario)


def test_browse_endpoints_are_public_and_cover_the_seed_queries(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        for q in SEED_QUERIES:
            body = await get_json(s, "/api/v1/search", 200, params={"q": q})
            assert body["query"] == q
            assert body["total"] >= len(body["data"]) > 0, q
            for track in body["data"]:
                haystack = " ".join(
                    [track["title"], track["artist"], track["genre"], *track["tags"]]
                )
                assert q in haystack.lower()
        page = await get_json(s, "/api/v1/tracks?page=1&limit=20", 200)
        assert len(page["data"]) == 20
        assert page["pagination"]["page"] == 1
        assert page["pagination"]["total"] >= 200
        assert page["data"][0]["id"] == STREAM_TRACK_ID
        page2 = await get_json(s, "/api/v1/tracks?page=2&limit=20", 200)
        assert {t["id"] for t in page["data"]}.isdisjoint(t["id"] for t in page2["data"])
        detail = await get_json(s, f"/api/v1/tracks/{STREAM_TRACK_ID}", 200)
        assert detail["data"]["id"] == STREAM_TRACK_ID
        assert detail["data"]["duration_s"] > 0

    run_client(emulator, scenario)


def test_browse_validation_errors(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        for path, status in [
            (f"/api/v1/tracks/{uuid.UUID(int=12345)}", 404),
            ("/api/v1/tracks/not-a-uuid", 400),
            ("/api/v1/search", 400),
            ("/api/v1/search?q=", 400),
            ("/api/v1/search?q=rock&limit=0", 400),
            ("/api/v1/tracks?page=0", 400),
            ("/api/v1/tracks?limit=abc", 400),
            ("/api/v1/tracks?limit=101", 400),
            ("/no/such/route", 404),
        ]:
            body = await get_json(s, path, status)
            assert isinstance(body["error"], str), path
        async with s.delete("/api/v1/search") as resp:
            assert resp.status == 405
            assert "GET" in resp.headers["Allow"]

    run_client(emulator, scenario)


# --------------------------------------------------------------------------- HLS


def test_hls_playlists_are_valid_and_every_reference_resolves(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        master_url = URL(emulator.base_url + f"{HLS}/master.m3u8")
        async with s.get(master_url) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/vnd.apple.mpegurl"
            tags, uris = parse_m3u8(await resp.text())
        stream_inf = [t for t in tags if t.startswith("#EXT-X-STREAM-INF:")]
        assert len(stream_inf) == len(uris) == 1
        assert "BANDWIDTH=256000" in stream_inf[0]
        assert uris == ["256k/playlist.m3u8"]

        media_url = master_url.join(URL(uris[0]))
        async with s.get(media_url) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/vnd.apple.mpegurl"
            tags, segments = parse_m3u8(await resp.text())
        target = [t for t in tags if t.startswith("#EXT-X-TARGETDURATION:")]
        assert len(target) == 1
        target_s = int(target[0].split(":")[1])
        assert "#EXT-X-MEDIA-SEQUENCE:0" in tags
        assert tags[-1] == "#EXT-X-ENDLIST"
        extinf = [float(t.split(":")[1].rstrip(",")) for t in tags if t.startswith("#EXTINF:")]
        assert len(extinf) == len(segments) >= 4
        assert all(0 < d <= target_s for d in extinf)
        assert segments == [f"segment-{n}.ts" for n in range(len(segments))]

        for name in segments:  # bounded: a track has at most 70 segments
            async with s.get(media_url.join(URL(name))) as resp:
                assert resp.status == 200, name
                assert resp.content_type == "video/mp2t"
                await resp.read()
        beyond = media_url.join(URL(f"segment-{len(segments)}.ts"))
        await get_json(s, str(beyond.relative()), 404)

    run_client(emulator, scenario)


def test_segment_is_whole_mpeg_ts_packets_of_real_size(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        async with s.get(f"{HLS}/256k/segment-0.ts") as resp:
            assert resp.status == 200
            assert resp.content_type == "video/mp2t"
            body = await resp.read()
        assert len(body) % 188 == 0
        assert all(body[i] == 0x47 for i in range(0, len(body), 188))
        expected = 256_000 * 6 // 8  # 256 kbit/s x 6 s segments
        assert expected - 188 < len(body) <= expected
        assert (await stats_of(s))["bytes_sent_segments"] == len(body)

    run_client(emulator, scenario)


def test_hls_unknown_track_is_404(emulator: EmulatorThread) -> None:
    unknown = f"/api/v1/tracks/{uuid.UUID(int=999)}/hls"

    async def scenario(s: aiohttp.ClientSession) -> None:
        for path in ("master.m3u8", "256k/playlist.m3u8", "256k/segment-0.ts"):
            await get_json(s, f"{unknown}/{path}", 404)
        await get_json(s, f"{HLS}/512k/playlist.m3u8", 404)

    run_client(emulator, scenario)


# --------------------------------------------------------------------------- auth, upload


def test_authenticated_endpoints_answer_401_without_a_bearer(emulator: EmulatorThread) -> None:
    calls = [
        ("POST", "/api/v1/tracks/upload/initiate"),
        ("POST", "/api/v1/tracks/upload/chunk"),
        ("GET", "/api/v1/marketplace/products?limit=20"),
        ("POST", "/api/v1/marketplace/orders"),
    ]
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ]

    async def scenario(s: aiohttp.ClientSession) -> None:
        for method, path in calls:
            for headers in bad_headers:
                async with s.request(method, path, headers=headers, json={}) as resp:
                    assert resp.status == 401, (method, path, headers)
                    assert resp.headers["WWW-Authenticate"] == "Bearer"
                    assert (await resp.json())["error"] == "unauthorized"

    run_client(emulator, scenario)


def test_upload_flow_validates_id_and_chunk_number(emulator: EmulatorThread) -> None:
    chunk = b"\x00" * 65536

    def chunk_headers(upload_id: str, number: str) -> dict[str, str]:
        return {**AUTH, "X-Upload-Id": upload_id, "X-Chunk-Number": number}

    async def scenario(s: aiohttp.ClientSession) -> None:
        init = {"total_chunks": 10, "total_size": 10 * len(chunk), "filename": "t.mp3"}
        body = await post_json(s, "/api/v1/tracks/upload/initiate", 200, json=init, headers=AUTH)
        upload_id = body["data"]["upload_id"]
        uuid.UUID(upload_id)
        chunk_path = "/api/v1/tracks/upload/chunk"
        for n in range(1, 11):
            ok = await post_json(
                s, chunk_path, 200, data=chunk, headers=chunk_headers(upload_id, str(n))
            )
            assert ok == {"data": {"received": len(chunk)}}
        rejected = [
            ("", "1", "missing_upload_id"),  # what the seed sends: upload_id never read
            (str(uuid.uuid4()), "1", "unknown_upload_id"),
            (upload_id, "0", "invalid_chunk_number"),
            (upload_id, "11", "invalid_chunk_number"),
            (upload_id, "x", "invalid_chunk_number"),
        ]
        for uid, number, code in rejected:
            err = await post_json(
                s, chunk_path, 400, data=chunk, headers=chunk_headers(uid, number)
            )
            assert err["error"] == code
        stats = await stats_of(s)
        assert stats["upload_bytes_accepted"] == 10 * len(chunk)
        assert stats["bytes_received_upload"] == 15 * len(chunk)
        assert stats["route_statuses"]["upload_chunk"] == {"200": 10, "400": 5}
        assert stats["uploads_open"] == 1

    run_client(emulator, scenario)


def test_upload_initiate_rejects_bad_bodies(emulator: EmulatorThread) -> None:
    good = {"total_chunks": 10, "total_size": 1024, "filename": "a.mp3"}
    bad_bodies: list[Any] = [
        b"{not json",
        b"[1, 2]",
        {**good, "total_chunks": 0},
        {**good, "total_chunks": True},
        {**good, "total_chunks": "10"},
        {**good, "total_size": -1},
        {**good, "filename": ""},
        {k: v for k, v in good.items() if k != "filename"},
    ]

    async def scenario(s: aiohttp.ClientSession) -> None:
        path = "/api/v1/tracks/upload/initiate"
        for body in bad_bodies:
            kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
            err = await post_json(s, path, 400, headers=AUTH, **kw)
            assert err["error"] in {"invalid_json", "invalid_field"}, body

    run_client(emulator, scenario)


def test_upload_registry_evicts_oldest_when_full() -> None:
    registry = UploadRegistry(capacity=3)
    ids = [registry.initiate(1, 1, f"{i}.mp3") for i in range(5)]
    assert len(registry) == 3
    assert registry.evicted == 2
    assert [registry.get(i) is not None for i in ids] == [False, False, True, True, True]


# --------------------------------------------------------------------------- marketplace


def test_products_and_orders(emulator: EmulatorThread) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        products = await get_json(s, "/api/v1/marketplace/products?limit=20", 200, headers=AUTH)
        assert len(products["data"]) == 20
        product = products["data"][0]
        assert {"id", "price_cents", "currency"} <= product.keys()
        await get_json(s, "/api/v1/marketplace/products?limit=0", 400, headers=AUTH)

        orders = "/api/v1/marketplace/orders"
        zero = {"product_id": ZERO_UUID, "quantity": 1}
        # Auth is checked before the body: no token -> 401 even for a body that is a 400.
        assert (await post_json(s, orders, 401, json=zero))["error"] == "unauthorized"
        err = await post_json(s, orders, 400, json=zero, headers=AUTH)
        assert err["error"] == "unknown_product"
        for body in (
            {"product_id": str(uuid.UUID(int=77)), "quantity": 1},
            {"product_id": "nope"},
            {"product_id": product["id"], "quantity": 0},
            {},
        ):
            await post_json(s, orders, 400, json=body, headers=AUTH)
        created = await post_json(
            s, orders, 201, json={"product_id": product["id"], "quantity": 2}, headers=AUTH
        )
        assert created["data"]["product_id"] == product["id"]
        assert created["data"]["total_cents"] == 2 * product["price_cents"]

    run_client(emulator, scenario)


# --------------------------------------------------------------------------- stats


def test_stats_count_exactly_the_requests_sent() -> None:
    """137 API requests of every kind (some 4xx) -> total 137; health and stats kept apart."""
    paths = [
        f"/api/v1/tracks/{STREAM_TRACK_ID}",
        "/api/v1/search?q=jazz",
        "/api/v1/tracks?page=1&limit=20",
        f"{HLS}/master.m3u8",
        f"{HLS}/256k/playlist.m3u8",
        f"{HLS}/256k/segment-1.ts",
        "/api/v1/marketplace/products",  # no token: 401
        "/api/v1/tracks/not-a-uuid",  # 400
    ]

    async def scenario(s: aiohttp.ClientSession) -> None:
        sent = 0
        for i in range(137):
            async with s.get(paths[i % len(paths)]) as resp:
                await resp.read()
            sent += 1
            if i % 20 == 0:
                await get_json(s, "/api/v1/health", 200)
                await stats_of(s)
        stats = await stats_of(s)
        assert stats["total"] == sent == 137
        assert sum(stats["routes"].values()) == 137
        assert sum(stats["statuses"].values()) == 137
        assert stats["statuses"]["401"] == 17  # indexes 6, 14, ..., 134
        assert stats["statuses"]["400"] == 17
        assert stats["health"] == 7
        assert "health" not in stats["routes"]
        await post_json(s, "/__reset", 200)
        after = await stats_of(s)
        assert after["total"] == 0
        assert after["routes"] == {}
        assert after["health"] == 0

    # Default "fast" profile: counting must hold with latency added too.
    with EmulatorThread(EmulatorConfig()) as emu:
        run_client(emu, scenario)


def test_stats_count_concurrent_requests_exactly() -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        async def one(i: int) -> None:
            async with s.get(f"/api/v1/search?q={SEED_QUERIES[i % len(SEED_QUERIES)]}") as r:
                await r.read()

        await asyncio.gather(*(one(i) for i in range(200)))
        stats = await stats_of(s)
        assert stats["total"] == 200
        assert stats["route_statuses"]["search"] == {"200": 200}

    with EmulatorThread(EmulatorConfig(profile="heavy")) as emu:
        run_client(emu, scenario)


# --------------------------------------------------------------------------- faults


def test_error_rate_one_answers_every_api_request_503_but_not_health() -> None:
    paths = ["/api/v1/search?q=rock", f"{HLS}/master.m3u8", "/api/v1/tracks"]

    async def scenario(s: aiohttp.ClientSession) -> None:
        for i in range(30):
            body = await get_json(s, paths[i % len(paths)], 503)
            assert body["error"] == "unavailable"
        await get_json(s, "/api/v1/health", 200)
        stats = await stats_of(s)
        assert stats["total"] == stats["errors_injected"] == 30
        assert stats["statuses"] == {"503": 30}

    with EmulatorThread(EmulatorConfig(profile="none", error_rate=1.0)) as emu:
        run_client(emu, scenario)


def test_reset_rate_one_drops_every_connection_without_a_response() -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        for _ in range(5):
            with pytest.raises(aiohttp.ClientConnectionError):
                async with s.post(INITIATE, json=INIT_BODY, headers=AUTH) as resp:
                    await resp.read()
        await get_json(s, "/api/v1/health", 200)
        stats = await stats_of(s)
        assert stats["total"] == stats["resets_injected"] == 5
        assert stats["statuses"] == {}

    # POST, not GET: aiohttp (3.10+) silently retries an idempotent request once when the
    # connection drops, so a GET would reach the server twice for one client request.
    with EmulatorThread(EmulatorConfig(profile="none", reset_rate=1.0)) as emu:
        run_client(emu, scenario, force_close=True)


def test_partial_fault_rates_are_deterministic_for_a_seed() -> None:
    def outcome(seed: int) -> dict[str, Any]:
        result: dict[str, Any] = {}

        async def scenario(s: aiohttp.ClientSession) -> None:
            for _ in range(60):
                try:
                    async with s.post(INITIATE, json=INIT_BODY, headers=AUTH) as resp:
                        await resp.read()
                except aiohttp.ClientConnectionError:
                    pass
            result.update(await stats_of(s))

        config = EmulatorConfig(profile="none", error_rate=0.3, reset_rate=0.2, seed=seed)
        with EmulatorThread(config) as emu:
            run_client(emu, scenario, force_close=True)
        return result

    first, again = outcome(7), outcome(7)
    assert first["total"] == 60
    assert 0 < first["resets_injected"] < 60
    assert 0 < first["errors_injected"] < 60
    assert first["statuses"]["200"] + first["errors_injected"] + first["resets_injected"] == 60
    for key in ("resets_injected", "errors_injected", "statuses"):
        assert first[key] == again[key]


# --------------------------------------------------------------------------- config, serving


def test_latency_profiles_are_seeded_and_shaped() -> None:
    fast, heavy = PROFILES["fast"], PROFILES["heavy"]
    assert PROFILES["none"] is None
    assert LatencySampler(None, 1).draw("search") == 0.0
    a = [LatencySampler(fast, 5).draw("search") for _ in range(3)]
    assert a == [LatencySampler(fast, 5).draw("search") for _ in range(3)]
    fast_s, heavy_s = LatencySampler(fast, 1), LatencySampler(heavy, 1)
    fast_draws = sorted(fast_s.draw("hls_segment") for _ in range(2000))
    heavy_draws = sorted(heavy_s.draw("hls_segment") for _ in range(2000))
    assert 0.001 < fast_draws[1000] < 0.010  # median of a few ms
    assert heavy_draws[1000] > fast_draws[1000]
    assert heavy_draws[1980] > 5 * fast_draws[1980]  # heavier p99 tail
    assert heavy is not None
    assert max(heavy_draws) <= heavy.cap_ms / 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"profile": "slow"},
        {"error_rate": 1.5},
        {"reset_rate": -0.1},
        {"error_rate": float("nan")},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid EmulatorConfig"):
        EmulatorConfig(**kwargs)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.com", ""])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback host"):
        serve_forever(EmulatorConfig(), host, 0)
    with pytest.raises(ValueError, match="non-loopback host"):
        EmulatorThread(EmulatorConfig(), host=host)
    with pytest.raises(ValueError, match="non-loopback host"):
        asyncio.run(start_emulator(EmulatorConfig(), host, 0))


def test_start_emulator_on_the_callers_loop() -> None:
    async def main() -> None:
        runner, port = await start_emulator(EmulatorConfig(profile="none"))
        try:
            assert port > 0
            url = f"http://127.0.0.1:{port}/api/v1/health"
            async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as s, s.get(url) as resp:
                assert resp.status == 200
        finally:
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_emulator_thread_stops_and_releases_its_port() -> None:
    emu = EmulatorThread(EmulatorConfig(profile="none")).start()
    base = emu.base_url
    assert base.startswith("http://127.0.0.1:")
    emu.stop()
    with pytest.raises(RuntimeError):
        _ = emu.port

    async def probe() -> None:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as s:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with s.get(base + "/api/v1/health"):
                    pass

    asyncio.run(asyncio.wait_for(probe(), 60))


def test_serve_forever_prints_its_url_and_stops_on_sigterm() -> None:
    code = (
        "from veza_ray.emulator import EmulatorConfig, serve_forever\n"
        "serve_forever(EmulatorConfig(profile='none'), '127.0.0.1', 0)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "serve_forever printed nothing within 60 s"
            line = proc.stdout.readline()
            assert "http://127.0.0.1:" in line, line
            url = line.split("http://", 1)[1].split()[0]

            async def probe() -> None:
                async with (
                    aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as s,
                    s.get(f"http://{url}/api/v1/health") as resp,
                ):
                    assert resp.status == 200

            asyncio.run(asyncio.wait_for(probe(), 60))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
