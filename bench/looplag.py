"""Loop-lag trace of one VU against hostile local targets: what blocks the event loop.

    python -m bench.looplag                      # every case, 3 requests each
    python -m bench.looplag gzip_bomb cookies    # some cases
    python -m bench.looplag --requests 5 --threshold-ms 20 --json out.json

One ``HttpClient`` (a VU's client, as the actor builds it) sends its requests one after
another in this process's event loop while ``veza_ray.engine.looptrace.LoopTrace`` stamps
a 5 ms heartbeat and samples the loop thread's stack whenever the heartbeat is late. The
targets run in a child process (``--serve``), so their work never shows up as this loop's
lag. Each case prints the heartbeats' lag (max, p99), the most CPU the loop thread spent
between two heartbeats (its own work, whatever else the machine runs), and the stacks
of its worst stalls.
The saturation rule's line is 50 ms (``veza_ray.core.merge.LAG_P99_LIMIT_MS``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

# name -> (path, what it is)
CASES: dict[str, tuple[str, str]] = {
    "gzip_bomb": ("/gzip_bomb?mib=32", "32 KiB of gzip that decodes to 32 MiB of zeros"),
    "gzip_layers": ("/gzip_layers?mib=32", "gzip of gzip: Content-Encoding: gzip, gzip"),
    "br_bomb": ("/br_bomb?mib=32", "54 bytes of brotli that decode to 32 MiB"),
    "zstd_bomb": ("/zstd_bomb?mib=32", "zstd that decodes to 32 MiB"),
    "gzip_json": ("/gzip_json?mib=24", "24 MiB of JSON, gzip'd"),
    "plain": ("/plain?mib=30", "30 MiB body, no encoding"),
    "cookies": ("/cookies?n=20000", "20,000 Set-Cookie lines (distinct names)"),
    "head_pieces": ("/head?kib=1000&piece=1024", "a 1 MB header block sent 1 KiB at a time"),
    "tiny_chunks": ("/chunks?kib=2048&size=1", "2 MiB body in 1-byte chunks"),
    "redirects": ("/redirect?n=10", "10 redirects, each setting a cookie"),
}


# ---- the target (a child process) ------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _zeros(mib: int) -> bytes:
    return b"\0" * (mib << 20)


@functools.lru_cache(maxsize=32)
def _json_text(mib: int) -> bytes:
    row = b'{"id": %d, "name": "product %d", "price": %d.99, "tags": ["a", "b"]},'
    out = bytearray(b"[")
    i = 0
    while len(out) < (mib << 20):
        out += row % (i, i * 7919 % 100003, i % 500)
        i += 1
    out[-1:] = b"]"
    return bytes(out)


@functools.lru_cache(maxsize=32)
def _encoded(kind: str, mib: int) -> tuple[bytes, bytes]:
    """(body, Content-Encoding) for one of the encoded cases."""
    if kind == "gzip_bomb":
        return gzip.compress(_zeros(mib), 9), b"gzip"
    if kind == "gzip_layers":
        return gzip.compress(gzip.compress(_zeros(mib), 9), 9), b"gzip, gzip"
    if kind == "br_bomb":
        import brotli

        return brotli.compress(_zeros(mib)), b"br"
    if kind == "zstd_bomb":
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
        return zstd.compress(_zeros(mib)), b"zstd"
    return gzip.compress(_json_text(mib), 6), b"gzip"


def _answer(conn: socket.socket, target: str) -> None:
    url = urlsplit(target)
    q = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
    kind = url.path.strip("/")
    if kind in ("gzip_bomb", "gzip_layers", "br_bomb", "zstd_bomb", "gzip_json"):
        body, coding = _encoded(kind, q.get("mib", 32))
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
        conn.sendall(head % (coding, len(body)) + body)
    elif kind == "plain":
        body = _zeros(q.get("mib", 30))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    elif kind == "cookies":
        lines = b"".join(b"Set-Cookie: c%d=v%d; Path=/\r\n" % (i, i) for i in range(q["n"]))
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")
    elif kind == "head":
        line = b"X-Filler: " + b"a" * 50 + b"\r\n"
        block = b"HTTP/1.1 200 OK\r\n" + line * ((q["kib"] << 10) // len(line))
        block += b"Content-Length: 2\r\n\r\nok"
        piece = q.get("piece", 1024)
        for i in range(0, len(block), piece):
            conn.sendall(block[i : i + piece])
            time.sleep(0.0002)  # the target's pace: separate reads on the client
    elif kind == "chunks":
        size = q.get("size", 1)
        frame = b"%x\r\n" % size + b"x" * size + b"\r\n"
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        n = (q["kib"] << 10) // size
        batch = frame * max(1, 65536 // len(frame))
        per = max(1, 65536 // len(frame))
        for _ in range(n // per):
            conn.sendall(batch)
        conn.sendall(frame * (n % per) + b"0\r\n\r\n")
    elif kind == "redirect":
        n = q.get("n", 10)
        nxt = f"/redirect?n={n - 1}".encode()
        if n <= 0:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        else:
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nSet-Cookie: hop%d=%d; Path=/\r\n"
                b"Content-Length: 0\r\n\r\n" % (nxt, n, n)
            )
    else:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _serve_conn(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        conn.settimeout(30.0)
        buf = b""
        try:
            while not stop.is_set():
                while b"\r\n\r\n" not in buf:
                    part = conn.recv(1 << 20)
                    if not part:
                        return
                    buf += part
                head, _, buf = buf.partition(b"\r\n\r\n")
                _answer(conn, head.split(b" ", 2)[1].decode())
        except OSError:
            return


def serve(max_s: float = 600.0) -> None:
    """The targets: prints the port, then serves until stdin closes or ``max_s`` passes."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    print(sock.getsockname()[1], flush=True)
    end = time.monotonic() + max_s
    while not stop.is_set() and time.monotonic() < end:
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        threading.Thread(target=_serve_conn, args=(conn, stop), daemon=True).start()
    sock.close()


class Target:
    """``with Target() as base: ...``: the targets in a child process on 127.0.0.1."""

    def __enter__(self) -> str:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.looplag", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        port = int(self._proc.stdout.readline())  # the readiness signal
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: Any) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(30)


# ---- the VU ------------------------------------------------------------------------------


async def drive(
    url: str, requests: int, threshold_ms: float = 20.0, **params: Any
) -> dict[str, Any]:
    """``requests`` GETs of ``url`` from one VU's client, one after another, traced."""
    from veza_ray.core.durations import DEFAULT_MAX_BODY
    from veza_ray.engine.http import ClientHub, HostGuard, HttpClient
    from veza_ray.engine.looptrace import LoopTrace

    rows: list[tuple[int, int]] = []

    def record(method: str, name: str, status: int, ok: bool, code: int, *rest: Any) -> None:
        rows.append((status, code))

    hub = ClientHub(max_body=params.pop("max_body", DEFAULT_MAX_BODY))
    client = HttpClient(hub, record, False, timeout=120.0, guard=HostGuard(frozenset()))
    trace = LoopTrace(threshold_ms)
    trace.start()
    answers = []
    t0 = time.perf_counter()
    try:
        for _ in range(requests):
            res = await client.get(url, **params)
            answers.append((res.status, res.error_code, len(res.body or b"")))
            await asyncio.sleep(0.02)  # a few heartbeats between requests
    finally:
        trace.stop()
        await hub.close()
    return {
        "url": url,
        "wall_s": round(time.perf_counter() - t0, 2),
        "answers": answers,
        "samples": rows,
        **trace.report(),
    }


def _print(name: str, what: str, r: dict[str, Any]) -> None:
    print(f"== {name}: {what}")
    print(
        f"   lag max {r['lag_max_ms']:.1f} ms, p99 {r['lag_p99_ms']:.1f} ms over {r['beats']}"
        f" beats (loop's own CPU between beats: max {r['busy_max_ms']:.1f} ms),"
        f" {r['stalls']} stalls; answers {r['answers'][:3]}"
    )
    for s in r["worst"][:2]:
        print(f"   stall {s['lag_ms']:.1f} ms ({s['busy_ms']:.1f} ms CPU):")
        for st in s["stacks"][:1]:
            for f in st["frames"][-6:]:
                print(f"      {f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.looplag", description=__doc__)
    p.add_argument("cases", nargs="*", choices=[*CASES, []], help="default: all")
    p.add_argument("--requests", type=int, default=3)
    p.add_argument("--threshold-ms", type=float, default=20.0)
    p.add_argument("--json", help="write every case's figures here")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve()
        return 0
    out: dict[str, Any] = {}
    with Target() as base:
        for name in args.cases or list(CASES):
            path, what = CASES[name]
            r = asyncio.run(drive(base + path, args.requests, args.threshold_ms))
            out[name] = r
            _print(name, what, r)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
