"""An endless response body through the real CLI on a real local Ray cluster: every
request is a counted failure with code 1702 and the actor's memory stays flat.

The server streams chunks until the client goes away (bounded at 1 GiB per connection).
The actor process (a descendant of this CLI run, found by its ``ray::LoadActor`` title) is
sampled from /proc while the run lasts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cli import CLI
from servers import write_script

pytestmark = pytest.mark.ray

CHUNK = b"x" * 65536
CAP = 1 << 30

SCRIPT = """
from veza_ray import env

options = {
    "scenarios": {
        "endless": {"executor": "per-vu-iterations", "vus": 2, "iterations": 6,
                    "maxDuration": "120s"},
    },
    "thresholds": {"http_reqs{error_code:1702}": ["count>=0"]},
}

async def default(vu):
    await vu.http.get(env("URL"))
"""


class EndlessServer:
    """Answers every request with an endless chunked body, on its own loop and thread."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EndlessServer:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
            sent = 0
            while sent < CAP:
                writer.write(frame)
                sent += len(CHUNK)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        out.extend(kids)
        todo.extend(kids)
    return out


def _actor_rss_mb(root: int) -> list[float]:
    sizes = []
    for pid in _descendants(root):
        try:
            if b"LoadActor" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return sizes


def test_endless_body_is_a_counted_1702_and_the_actor_stays_small(tmp_path: Path) -> None:
    script = write_script(tmp_path, SCRIPT)
    out = tmp_path / "summary.json"
    with EndlessServer() as srv:
        proc = subprocess.Popen(
            [
                *CLI,
                "run",
                script,
                "--actors",
                "1",
                "-q",
                "--no-preflight",
                "-e",
                f"URL=http://127.0.0.1:{srv.port}/",
                "--summary-export",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak, samples = 0.0, 0
        while proc.poll() is None:
            sizes = _actor_rss_mb(proc.pid)
            if sizes:
                samples += 1
                peak = max(peak, *sizes)
            time.sleep(0.05)
        stdout, stderr = proc.communicate()
        connections = srv.connections
    assert samples > 0, "the actor process was never seen"
    summary = json.loads(out.read_text())
    metrics = summary["metrics"]
    assert metrics["http_reqs"]["values"]["count"] == 12, stdout + stderr
    assert metrics["http_reqs{error_code:1702}"]["values"]["count"] == 12
    assert metrics["http_req_failed"]["values"]["rate"] == 1.0
    assert connections == 12  # each failure dropped its connection
    assert peak < 300, f"the actor's RSS reached {peak:.0f} MB"
    print(f"actor RSS peak {peak:.0f} MB over {samples} samples")
