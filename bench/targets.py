"""Targets on 127.0.0.1, each pinned to the target core and always killed afterwards.

- nginx (Debian): ``worker_processes 1``, ``return 200 "ok"``, keep-alive without a
  request cap, no access log: the target that is never the bottleneck of one core.
- a fixed-delay aiohttp server (``python -m bench.targets delay``): every answer after
  ``asyncio.sleep(delay)``, for the latency-fidelity case.
- veza-ray's own emulator (``veza-ray target --profile none``), for the seed mix.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.harness import TARGET_CORE, background, free_port, http_ok, tool_paths

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 19500;
events {{ worker_connections 19000; multi_accept on; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(port: int | None = None, core: str = TARGET_CORE) -> Iterator[str]:
    """nginx pinned to ``core``; yields its base URL (``http://127.0.0.1:PORT/``)."""
    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    url = f"http://127.0.0.1:{port}/"
    argv = [tool_paths()["nginx"], "-p", str(tmp), "-c", str(conf)]
    try:
        with background(argv, core=core, ready=lambda: http_ok(url), log=tmp / "stdout.log"):
            yield url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def delay_server(
    delay_s: float = 0.05, port: int | None = None, core: str = TARGET_CORE
) -> Iterator[str]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    argv = [
        sys.executable,
        "-m",
        "bench.targets",
        "delay",
        "--port",
        str(port),
        "--delay",
        str(delay_s),
    ]
    with background(argv, core=core, ready=lambda: http_ok(url, timeout=2.0)):
        yield url


@contextlib.contextmanager
def emulator(port: int | None = None, core: str = TARGET_CORE) -> Iterator[str]:
    """veza-ray's Veza API emulator, no added latency; yields its base URL (no slash)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "veza_ray.cli",
        "target",
        "--profile",
        "none",
        "--port",
        str(port),
    ]
    with background(argv, core=core, ready=lambda: http_ok(base + "/api/v1/health")):
        yield base


def _serve_delay(port: int, delay: float) -> None:
    import asyncio

    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.targets")
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("delay", help="aiohttp server answering after a fixed delay")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--delay", type=float, default=0.05)
    args = p.parse_args()
    if args.what == "delay":
        _serve_delay(args.port, args.delay)


if __name__ == "__main__":
    main()
