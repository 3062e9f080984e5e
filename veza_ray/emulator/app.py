"""The aiohttp application: Veza API routes, auth, validation, latency, faults, stats.

Handlers validate the way a real backend does (bad ids and bodies get a 400 JSON error,
missing bearer a 401), so a load script's flows are exercised for real: a script that sends
an empty upload id sees the 400 it would see on staging.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from .catalogue import ZERO_UUID, Catalogue, Track
from .config import EmulatorConfig
from .degrade import Degrader
from .faults import Fault, FaultInjector
from .hls import MP2T, MPEGURL, SEGMENT_BYTES, master_playlist, media_playlist
from .latency import PROFILES, LatencySampler
from .stats import EmulatorStats
from .uploads import UploadRegistry

API = "/api/v1"
UNMATCHED = "unmatched"
HEALTH = "health"
CONTROL_ROUTES = frozenset({"stats", "reset"})
MAX_CHUNK_BYTES = 16 * 1024 * 1024
MAX_TOTAL_CHUNKS = 10_000
MAX_TOTAL_SIZE = 10 * 1024**3
_READ_BLOCK = 256 * 1024


@dataclass
class EmulatorState:
    """Everything a handler needs, hung on the app instead of module globals."""

    config: EmulatorConfig
    stats: EmulatorStats = field(default_factory=EmulatorStats)
    catalogue: Catalogue = field(default_factory=Catalogue)
    uploads: UploadRegistry = field(default_factory=UploadRegistry)
    latency: LatencySampler = field(init=False)
    faults: FaultInjector = field(init=False)
    degrade: Degrader = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.latency = LatencySampler(PROFILES[cfg.profile], cfg.seed)
        self.faults = FaultInjector(cfg.error_rate, cfg.reset_rate, cfg.seed)
        self.degrade = Degrader(cfg.slow, cfg.flaky, cfg.seed)


STATE: web.AppKey[EmulatorState] = web.AppKey("veza_emulator_state", EmulatorState)


class ApiError(Exception):
    """A validation failure, turned into ``{"error": code, "message": ...}`` by the middleware."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _raw_json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    resp = json_response({"error": code, "message": message}, status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = "Bearer"
    return resp


def require_bearer(request: web.Request) -> None:
    """Any non-empty bearer token passes: the emulator has no users, only the check."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "missing or malformed bearer token")


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"{name} must be an integer, got {raw!r}"
        ) from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be within [{low}, {high}]")
    return value


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return body


def _int_field(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ApiError(400, "invalid_field", f"{name} must be an integer within [{low}, {high}]")
    return value


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


# --------------------------------------------------------------------------- handlers


async def health(request: web.Request) -> web.Response:
    if _state(request).config.fail_health:
        return json_response({"status": "unavailable"}, 503)
    return json_response({"status": "ok"})


async def upload_initiate(request: web.Request) -> web.Response:
    require_bearer(request)
    body = await json_object(request)
    total_chunks = _int_field(body, "total_chunks", 1, MAX_TOTAL_CHUNKS)
    total_size = _int_field(body, "total_size", 1, MAX_TOTAL_SIZE)
    filename = body.get("filename")
    if not isinstance(filename, str) or not 0 < len(filename) <= 255:
        raise ApiError(400, "invalid_field", "filename must be a string of 1..255 characters")
    upload_id = _state(request).uploads.initiate(total_chunks, total_size, filename)
    return json_response({"data": {"upload_id": upload_id}})


async def upload_chunk(request: web.Request) -> web.Response:
    """Drain and count the body first, then validate, so keep-alive survives a 400."""
    state = _state(request)
    size = 0
    async for block in request.content.iter_chunked(_READ_BLOCK):
        size += len(block)
        state.stats.bytes_received_upload += len(block)
        if size > MAX_CHUNK_BYTES:
            resp = error_response(413, "chunk_too_large", f"chunk exceeds {MAX_CHUNK_BYTES} B")
            resp.force_close()
            return resp
    require_bearer(request)
    upload_id = request.headers.get("X-Upload-Id", "").strip()
    if not upload_id:
        raise ApiError(400, "missing_upload_id", "X-Upload-Id header is required")
    upload = state.uploads.get(upload_id)
    if upload is None:
        raise ApiError(400, "unknown_upload_id", f"no open upload {upload_id!r}")
    raw_number = request.headers.get("X-Chunk-Number", "")
    try:
        number = int(raw_number)
    except ValueError:
        raise ApiError(400, "invalid_chunk_number", "X-Chunk-Number must be an integer") from None
    if not 1 <= number <= upload.total_chunks:
        raise ApiError(
            400, "invalid_chunk_number", f"X-Chunk-Number must be within [1, {upload.total_chunks}]"
        )
    upload.chunks_received += 1
    upload.bytes_received += size
    state.stats.upload_bytes_accepted += size
    return json_response({"data": {"received": size}})


def _track_or_404(request: web.Request) -> Track:
    track = _state(request).catalogue.track(request.match_info["track_id"])
    if track is None:
        raise ApiError(404, "track_not_found", "no such track")
    return track


async def hls_master(request: web.Request) -> web.Response:
    _track_or_404(request)
    return web.Response(body=master_playlist().encode(), content_type=MPEGURL)


async def hls_playlist(request: web.Request) -> web.Response:
    track = _track_or_404(request)
    return web.Response(body=media_playlist(track.segments).encode(), content_type=MPEGURL)


async def hls_segment(request: web.Request) -> web.Response:
    track = _track_or_404(request)
    if not 0 <= int(request.match_info["n"]) < track.segments:
        raise ApiError(404, "segment_not_found", "no such segment")
    if request.method == "GET":
        _state(request).stats.bytes_sent_segments += len(SEGMENT_BYTES)
    return web.Response(body=SEGMENT_BYTES, content_type=MP2T)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    if not query or len(query) > 200:
        raise ApiError(400, "invalid_parameter", "q is required (1..200 characters)")
    limit = int_param(request, "limit", 20, 1, 100)
    return _raw_json(_state(request).catalogue.search_body(query, limit))


async def track_list(request: web.Request) -> web.Response:
    page = int_param(request, "page", 1, 1, 10_000)
    limit = int_param(request, "limit", 20, 1, 100)
    return _raw_json(_state(request).catalogue.page_body(page, limit))


async def track_detail(request: web.Request) -> web.Response:
    raw = request.match_info["track_id"]
    try:
        uuid.UUID(raw)
    except ValueError:
        raise ApiError(400, "invalid_id", f"track id {raw!r} is not a UUID") from None
    return json_response({"data": _track_or_404(request).to_json()})


async def product_list(request: web.Request) -> web.Response:
    require_bearer(request)
    limit = int_param(request, "limit", 20, 1, 100)
    return _raw_json(_state(request).catalogue.products_body(limit))


async def order_create(request: web.Request) -> web.Response:
    """Auth first, then validation: a zero or unknown product id is a 400, as on staging."""
    require_bearer(request)
    body = await json_object(request)
    raw = body.get("product_id")
    if not isinstance(raw, str):
        raise ApiError(400, "invalid_field", "product_id must be a UUID string")
    try:
        product_id = str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(400, "invalid_field", f"product_id {raw!r} is not a UUID") from None
    product = _state(request).catalogue.product(product_id)
    if product_id == ZERO_UUID or product is None:
        raise ApiError(400, "unknown_product", f"no product {product_id}")
    quantity = body.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 100:
        raise ApiError(400, "invalid_field", "quantity must be an integer within [1, 100]")
    order = {
        "id": str(uuid.uuid4()),
        "product_id": product.id,
        "quantity": quantity,
        "total_cents": product.price_cents * quantity,
        "currency": product.currency,
        "status": "pending",
    }
    return json_response({"data": order}, 201)


async def stats(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response(state.stats.snapshot(uploads_open=len(state.uploads)))


async def reset_stats(request: web.Request) -> web.Response:
    _state(request).stats.reset()
    return json_response({"status": "reset"})


# --------------------------------------------------------------------------- middleware


def _abort_connection(request: web.Request) -> None:
    """Close with RST (SO_LINGER 0) so the client sees a reset, not a clean EOF."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _http_error(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        return exc
    code = exc.reason.lower().replace(" ", "_")
    resp = error_response(exc.status, code, exc.reason)
    if "Allow" in exc.headers:
        resp.headers["Allow"] = exc.headers["Allow"]
    return resp


@web.middleware
async def emulator_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count, inject faults, add latency, and turn errors into JSON, in that order."""
    state = _state(request)
    stats_ = state.stats
    route = request.match_info.route.name or UNMATCHED
    if route in CONTROL_ROUTES:
        stats_.control += 1
        return await handler(request)
    if route == HEALTH:
        stats_.health += 1
        return await handler(request)

    stats_.count_request(route)
    fault = state.faults.draw()
    if fault is Fault.RESET:
        stats_.resets_injected += 1
        _abort_connection(request)
        # The transport is closing: aiohttp's write fails quietly and nothing is sent.
        return web.Response(status=503)
    delay = state.latency.draw(route) * state.degrade.factor(route)
    if fault is Fault.NONE and state.degrade.fails(route):
        fault = Fault.ERROR
    if delay > 0.0:
        await asyncio.sleep(delay)

    resp: web.StreamResponse
    if fault is Fault.ERROR:
        stats_.errors_injected += 1
        resp = error_response(503, "unavailable", "injected fault")
    else:
        try:
            resp = await handler(request)
        except ApiError as exc:
            resp = error_response(exc.status, exc.code, exc.message)
        except web.HTTPException as exc:
            resp = _http_error(exc)
        except Exception:
            stats_.count_status(route, 500)
            raise
    stats_.count_status(route, resp.status)
    return resp


def build_app(config: EmulatorConfig) -> web.Application:
    """The emulator as an aiohttp app; mount it anywhere or run it with ``start_emulator``."""
    app = web.Application(middlewares=[emulator_middleware])
    app[STATE] = EmulatorState(config)
    tracks = f"{API}/tracks"
    hls = f"{tracks}/{{track_id}}/hls"
    r = app.router
    r.add_get(f"{API}/health", health, name=HEALTH)
    r.add_post(f"{tracks}/upload/initiate", upload_initiate, name="upload_initiate")
    r.add_post(f"{tracks}/upload/chunk", upload_chunk, name="upload_chunk")
    r.add_get(f"{hls}/master.m3u8", hls_master, name="hls_master")
    r.add_get(f"{hls}/256k/playlist.m3u8", hls_playlist, name="hls_playlist")
    r.add_get(f"{hls}/256k/segment-{{n:\\d+}}.ts", hls_segment, name="hls_segment")
    r.add_get(f"{API}/search", search, name="search")
    r.add_get(tracks, track_list, name="track_list")
    r.add_get(f"{tracks}/{{track_id}}", track_detail, name="track_detail")
    r.add_get(f"{API}/marketplace/products", product_list, name="product_list")
    r.add_post(f"{API}/marketplace/orders", order_create, name="order_create")
    r.add_get("/__stats", stats, name="stats")
    r.add_post("/__reset", reset_stats, name="reset")
    return app
