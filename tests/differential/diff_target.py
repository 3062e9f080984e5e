"""The seeded target: one raw server on 127.0.0.1 whose answer to each request is decided
by the request's path, so k6 and veza-ray meet exactly the same behaviours.

Every request of a run has a key (VU, iteration, request number), and the scripts ask for
``/d/{vu}/{iteration}/{j}``. A ``Plan`` (tests/differential/diff_plan.py) holds one ``Act`` per
key, drawn from a seed; the server looks the act up by path and plays it: a latency, then
a complete answer, an error status, a redirect, a cookie round trip, a compressed or slow
body, or a failure at one point of the exchange (silence before the head, mid-head or
mid-body; a reset before the head or mid-body; a clean close mid-body). Per-VU,
per-iteration keys make the set of requests (and so every count and every latency the
server imposes) independent of scheduling: only the clients' own overhead differs.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass
from typing import Any

from rawserver import CaseServer, Conn, LoopThread, Seen, response

# What the target can do with one request. ``delay`` is always waited first.
FAILS_BY_TIMEOUT = frozenset({"hang", "hang_head", "hang_body"})
FAILS_BY_NETWORK = frozenset({"close", "reset", "reset_body", "cut_body"})
# Failed before any byte of the response: on a reused keep-alive connection Go (so k6)
# and veza-ray send a GET once more on a new connection, which fails the same way.
REPLAYED = frozenset({"close", "reset"})
BODY_FAILS = frozenset({"hang_body", "reset_body", "cut_body"})
TWO_HOPS = frozenset({"redirect", "cookie", "slow_redirect"})
KINDS = (
    "ok",  # 200 with a body of ``size`` bytes
    "gzip",  # 200 with a gzip-encoded body
    "bad_gzip",  # 200 saying Content-Encoding: gzip over a body that is not gzip
    "status",  # ``status`` (4xx/5xx) with a small body
    "redirect",  # 302 to /next, which answers 200 after the same delay
    "cookie",  # 302 + Set-Cookie (Path: this request), /next says whether it came back
    # 302 and /next each after ``delay`` = 60 % of the timeout: k6's timeout is one deadline
    # for the request and its redirects, so /next times out 40 % of the timeout in
    "slow_redirect",
    "slow_body",  # the head, then the body in ``pieces`` writes ``gap`` seconds apart
    *sorted(FAILS_BY_TIMEOUT),  # silence before the head / after part of it / mid-body
    *sorted(FAILS_BY_NETWORK),  # FIN / RST before the head; RST / FIN mid-body
)
RESET_WAIT_S = 0.2  # rawserver.Conn.reset lets written bytes land before the RST


@dataclass(frozen=True)
class Act:
    """What the target does for one request."""

    kind: str
    delay: float  # seconds before anything is written
    status: int = 200
    size: int = 200
    pieces: int = 1
    gap: float = 0.0  # seconds between the pieces of a slow body
    post: int = 0  # the client POSTs this many body bytes (0: a GET)

    def may_replay(self) -> bool:
        """Go (so k6) and veza-ray send a GET again when it failed before any byte on a
        reused connection; a POST without an Idempotency-Key is never sent twice."""
        return self.kind in REPLAYED and not self.post

    def hops(self) -> int:
        return 2 if self.kind in TWO_HOPS else 1

    def failed(self) -> bool:
        """Whether k6 counts the (final) response in http_req_failed."""
        failing = FAILS_BY_TIMEOUT | FAILS_BY_NETWORK | {"status", "slow_redirect", "bad_gzip"}
        return self.kind in failing

    def samples(self, timeout_s: float, replayed: bool = False) -> list[tuple[float, bool]]:
        """(duration, failed) of each sample: a redirect's 3xx hop is never failed."""
        ms = self.durations_ms(timeout_s, replayed)
        return [(d, self.failed() and i == len(ms) - 1) for i, d in enumerate(ms)]

    def durations_ms(self, timeout_s: float, replayed: bool = False) -> list[float]:
        """The http_req_duration of each sample this act makes, as the target imposes it
        (the client's own overhead comes on top). A replayed request is timed over both
        attempts, as k6 times it."""
        if self.kind in FAILS_BY_TIMEOUT:
            return [timeout_s * 1000.0]
        if self.kind == "slow_redirect":
            return [self.delay * 1000.0, (timeout_s - self.delay) * 1000.0]
        times = 2 if replayed and self.may_replay() else 1
        if self.kind in ("reset", "reset_body"):
            return [times * (self.delay + RESET_WAIT_S) * 1000.0]
        if self.kind == "close":
            return [times * self.delay * 1000.0]
        if self.kind == "slow_body":
            return [(self.delay + (self.pieces - 1) * self.gap) * 1000.0]
        return [self.delay * 1000.0] * self.hops()


def body_of(size: int, key: str) -> bytes:
    """A compressible body of ``size`` bytes that differs per key."""
    line = f"{key} the quick brown fox jumps over the lazy dog\n".encode()
    return (line * (size // len(line) + 1))[:size]


HEAD_PART = b"HTTP/1.1 200 OK\r\nContent-Le"


async def play(act: Act, conn: Conn, req: Seen, key: str) -> None:
    """Answer one request as ``act`` says."""
    await asyncio.sleep(act.delay)
    body = body_of(act.size, key)
    k = act.kind
    if k == "ok":
        await conn.send(response(body))
    elif k == "gzip":
        await conn.send(response(gzip.compress(body), headers=b"Content-Encoding: gzip\r\n"))
    elif k == "bad_gzip":
        await conn.send(response(body + b"!", headers=b"Content-Encoding: gzip\r\n"))
    elif k == "status":
        reason = {404: "Not Found", 500: "Internal Server Error", 503: "Unavailable"}
        await conn.send(response(body[:64], f"{act.status} {reason.get(act.status, 'Error')}"))
    elif k in TWO_HOPS:
        cookie = b"Set-Cookie: c%s=v; Path=%s\r\n" % (key.encode(), req.target.encode())
        extra = cookie if k == "cookie" else b""
        await conn.send(
            response(b"", "302 Found", b"Location: " + req.target.encode() + b"/next\r\n" + extra)
        )
    elif k == "slow_body":
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        step = -(-len(body) // act.pieces)
        for i in range(act.pieces):
            if i:
                await asyncio.sleep(act.gap)
            await conn.send(body[i * step : (i + 1) * step])
    elif k == "hang":
        await conn.hang()
    elif k == "hang_head":
        await conn.send(HEAD_PART)
        await conn.hang()
    elif k in BODY_FAILS:
        whole = response(body)
        await conn.send(whole[: len(whole) - len(body) // 2])
        end = {"hang_body": conn.hang, "reset_body": conn.reset, "cut_body": conn.close}
        await end[k]()
    elif k == "reset":
        await conn.reset()
    elif k == "close":
        await conn.close()
    else:
        raise AssertionError(f"unknown act {k!r}")


async def _second_hop(act: Act, conn: Conn, req: Seen) -> None:
    await asyncio.sleep(act.delay)
    if act.kind == "cookie":
        had = any(k.lower() == "cookie" for k, _ in req.headers)
        await conn.send(response(b"cookie=yes" if had else b"cookie=missing"))
    else:
        await conn.send(response(b"landed"))


class Target:
    """The seeded server, on its own loop thread: ``with Target(acts_by_key) as t: t.url``.
    ``seen`` lists every request it read (a retry included), for counting."""

    def __init__(self, acts: dict[tuple[int, int, int], Act]) -> None:
        self.acts = acts
        self.unknown: list[str] = []
        self._server = CaseServer(self._serve, None)
        self._loop: LoopThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def take(self) -> list[Seen]:
        """What the server read since the last call (and forget it)."""

        async def grab() -> list[Seen]:
            return self._server.take()[0]

        assert self._loop is not None
        return self._loop.call(grab())

    def __enter__(self) -> Target:
        self._loop = LoopThread()
        self._loop.call(self._server.start())
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._loop is not None
        self._loop.call(self._server.stop())
        self._loop.stop()

    async def _serve(self, conn: Conn, req: Seen) -> None:
        parts = req.target.split("?", 1)[0].strip("/").split("/")
        try:
            vu, it, j = (int(p) for p in parts[1:4])
            act = self.acts[(vu, it, j)]
        except (ValueError, KeyError):
            self.unknown.append(req.target)
            await conn.send(response(b"no such key", "404 Not Found"))
            return
        if len(parts) == 5 and parts[4] == "next":
            await _second_hop(act, conn, req)
        else:
            await play(act, conn, req, f"{vu}-{it}-{j}")
