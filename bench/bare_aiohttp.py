"""A bare aiohttp loop, the floor under veza-ray's request path: N coroutines GET a URL
as fast as they can through one shared ClientSession for ``--duration`` seconds.

    python -m bench.bare_aiohttp URL [--vus 50] [--duration 10] [--loop uvloop|asyncio]
                                 [--record] [--session-per-vu]

``--record`` appends each latency to a list (the cheapest instrumentation there is);
``--session-per-vu`` gives every coroutine its own ClientSession over one shared
connector (VUs keep separate cookie jars); ``--veza timeout,iter_any`` adopts the choices
veza-ray's old aiohttp path made (the path itself is gone: docs/http-client.md). Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _main(args: argparse.Namespace) -> dict[str, object]:
    import aiohttp

    conn = aiohttp.TCPConnector(limit=0)

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=conn, connector_owner=False)

    shared = session()
    sessions = [session() if args.session_per_vu else shared for _ in range(args.vus)]
    per_req_timeout = "timeout" in args.veza
    iter_any = "iter_any" in args.veza
    lat: list[float] = []
    count = [0]
    stop_at = time.perf_counter() + args.duration

    async def vu(session: aiohttp.ClientSession) -> None:
        n = 0
        while time.perf_counter() < stop_at and n < 10_000_000:
            t0 = time.perf_counter()
            kw = {"timeout": aiohttp.ClientTimeout(total=60.0)} if per_req_timeout else {}
            async with session.get(args.url, **kw) as resp:
                if iter_any:
                    async for _chunk in resp.content.iter_any():
                        pass
                else:
                    await resp.read()
            if args.record:
                lat.append(time.perf_counter() - t0)
            n += 1
        count[0] += n

    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(vu(s) for s in sessions))
    c1, w1 = time.process_time(), time.perf_counter()
    for s in {id(s): s for s in sessions}.values():
        await s.close()
    await conn.close()
    return {
        "requests": count[0],
        "rps": count[0] / (w1 - w0),
        "cpu_share": (c1 - c0) / (w1 - w0),
        "loop": type(asyncio.get_running_loop()).__module__,
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bare_aiohttp")
    p.add_argument("url")
    p.add_argument("--vus", type=int, default=50)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--record", action="store_true")
    p.add_argument("--session-per-vu", action="store_true")
    p.add_argument(
        "--veza",
        default="",
        help="comma list of the old aiohttp path's choices to adopt: timeout (a"
        " ClientTimeout per request), iter_any (discarded body read in chunks)",
    )
    args = p.parse_args()
    if args.loop == "uvloop":
        import uvloop

        out = uvloop.run(_main(args))
    else:
        out = asyncio.run(_main(args))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
