"""veza-ray's own cost per iteration, without the kernel's: a steadier figure than req/s
on a shared box, for comparing candidate changes.

    python -m bench.micro [--patch NAME ...] [--iters 20000]
                          [--repeat 7] [--through pool|transport] [--loop asyncio|uvloop]

``--through transport`` stubs the transport instead of the pool's exchange (every write
answered on the next turn of the loop), so the pool, the connection's deadline timer and
future, and the loop's wake-ups are timed too: the whole request path but the kernel.

Builds a real runner for bench/scripts/vr_check_trend.py (a GET with a tag, a check() and
a Trend.add) and runs ``Runner._iteration`` in a loop with the network replaced by a stub
that answers at once (status 200, 2-byte body, nginx's headers): the pool's ``exchange``,
which leaves the request head building, URL cache, response parsing (llhttp) and timings
to veza-ray's code.
What is timed is everything veza-ray does around the request (VU context, HttpClient's
bookkeeping and timings, the recorder's sinks, check(), the Trend, iteration metrics) plus
a drain every 1,000 iterations, as an actor's pull would. Prints the best of ``--repeat``
runs (the minimum is what other processes' load disturbs least) in µs per iteration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench.harness import BENCH

RAW_HEADERS = (
    (b"Server", b"nginx/1.22.1"),
    (b"Date", b"Thu, 26 Nov 2026 10:00:00 GMT"),
    (b"Content-Type", b"application/octet-stream"),
    (b"Content-Length", b"2"),
    (b"Connection", b"keep-alive"),
)


_NGINX_HEAD = b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(k + b": " + v for k, v in RAW_HEADERS)
_NGINX_RESPONSE = _NGINX_HEAD + b"\r\n\r\nok"


_READER: Any = None


class _EchoTransport:
    """``--through transport``: a transport whose every write is answered, on the next
    turn of the loop, with nginx's response, so the pool, the connection's deadline
    timer, its future and the loop's wake-ups all run; only the kernel is left out."""

    def __init__(self, proto: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.proto, self.loop = proto, loop

    def write(self, data: bytes) -> None:
        self.loop.call_soon(self.proto.data_received, _NGINX_RESPONSE)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _stub_transport(pool: Any) -> None:
    from veza_ray.engine.h1client import H1Conn

    async def _open(key: Any, t: Any, deadline: float) -> Any:
        conn = H1Conn(key)
        conn.connection_made(_EchoTransport(conn, asyncio.get_running_loop()))  # type: ignore[arg-type]
        t.started = t.connected = time.perf_counter()
        pool._all.add(conn)
        return conn

    pool._open = _open


async def _exchange(
    key: Any, method: str, head: bytes, body: Any, keep: bool, t: float, *a: Any
) -> Any:
    """The lean pool's exchange with the socket taken out: the response is still parsed
    (by llhttp, as on a connection)."""
    from veza_ray.engine.h1 import ResponseReader
    from veza_ray.engine.h1client import Exchange, Timed

    global _READER
    if _READER is None:
        _READER = ResponseReader()
    timed = Timed()
    timed.sent = time.perf_counter()
    r = _READER
    r.start(method, keep, 1 << 20)
    r.feed(_NGINX_RESPONSE)
    assert r.head is not None
    body_out = r.body() if keep else None
    return Exchange(r.head, body_out, len(_NGINX_RESPONSE), time.perf_counter()), timed


async def _measure(iters: int, repeat: int, client: str, through: str = "pool") -> list[float]:
    from veza_ray.core.options import parse_options
    from veza_ray.core.plan import make_plan
    from veza_ray.engine.http import ClientHub
    from veza_ray.engine.runner import build_runner
    from veza_ray.engine.scenario import load_script

    env = {"URL": "http://127.0.0.1:9/"}
    script = load_script(str(BENCH / "scripts" / "vr_check_trend.py"), env)
    options = parse_options(script.raw_options)
    runner = build_runner(
        script, options, make_plan(options.scenarios, 1)[0], env, log=lambda m: None
    )
    runner._hub = hub = ClientHub()
    if through == "transport":
        _stub_transport(hub.pool)
    else:
        hub.pool.exchange = _exchange  # type: ignore[method-assign,assignment]
    s = runner.scenarios[0]
    vu = runner._new_vu(s, 0)
    best: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for i in range(iters):
            await runner._iteration(s, vu)
            if i % 1000 == 999:
                runner.snapshot()
        best.append((time.perf_counter() - t0) / iters * 1e6)
    runner.snapshot()
    await hub.close()
    return best


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.micro")
    p.add_argument("--client", choices=("lean",), default="lean")  # the only client now
    p.add_argument("--patch", action="append", default=[])
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument(
        "--through",
        choices=("pool", "transport"),
        default="pool",
        help="what answers at once: the pool's exchange (default) or the transport",
    )
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = p.parse_args()
    if args.patch:
        from bench import patches

        patches.apply(args.patch)
    go = _measure(args.iters, args.repeat, args.client, args.through)
    if args.loop == "uvloop":  # what a Ray actor runs on
        import uvloop

        runs = uvloop.run(go)
    else:
        runs = asyncio.run(go)
    print(
        json.dumps(
            {
                "patches": args.patch,
                "through": args.through,
                "loop": args.loop,
                "us_per_iteration": min(runs),
                "runs_us": [round(x, 3) for x in runs],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
