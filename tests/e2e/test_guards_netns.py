"""The guard against a real other host: a capture server in a network namespace.

A namespace ``vzg-<pid>`` (one veth pair, 10.231.2xx.0/30, removed after) holds a
server that records every connection it gets. The tool is then led towards it the ways
an attacker would: a redirect from the loopback health URL, ``http_proxy`` and friends,
redirects from VU requests on both client paths, and a ``*.localhost`` name that a hosts
file (bind-mounted in a private mount namespace, so the machine's own is untouched)
points at it. The capture server must see nothing; with ``--allow-host`` it does see the
pre-flight, which shows the test could tell.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli import CLI
from requires import requires
from servers import write_script

from veza_ray.emulator import EmulatorConfig, EmulatorThread

pytestmark = requires("netns")

NS = f"vzg-{os.getpid()}"
HOST_IF = f"vzgh{os.getpid() % 100000}"
NS_IF = f"vzgn{os.getpid() % 100000}"
NET = f"10.231.{200 + os.getpid() % 50}"
HOST_IP, CAPTURE_IP = f"{NET}.1", f"{NET}.2"
PORT = 8080

CAPTURE = """
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
srv = socket.create_server((sys.argv[2], int(sys.argv[3])))
def serve(conn):
    with conn:
        conn.settimeout(2)
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        log.write("data " + repr(data[:200]) + "\\n")
        try:
            conn.sendall(b"HTTP/1.1 503 Captured\\r\\nContent-Length: 0\\r\\n\\r\\n")
        except OSError:
            pass
while True:
    c, peer = srv.accept()
    log.write(f"accept {peer[1]}\\n")  # in accept order: the log's barrier (_seen)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

FLOW = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 1}}}
async def default(vu):
    await vu.http.get(env("BASE_URL") + "/x")
"""

# Both client paths, in-process: each URL once; prints [[client, url, status, code], ...].
PROBE = """
import asyncio, json, sys
from veza_ray.engine.http import ClientHub, HostGuard, HttpClient
async def main(urls):
    out = []
    for lean in (True,):  # one client since the llhttp work (the aiohttp path is gone)
        hub = ClientHub(guard=HostGuard(frozenset()))
        client = HttpClient(hub, lambda *a: None, False, timeout=5, guard=HostGuard(frozenset()))
        for url in urls:
            res = await client.get(url)
            out.append(["lean" if lean else "aiohttp", url, res.status, res.error_code])
        await hub.close()
    print(json.dumps(out))
asyncio.run(main(sys.argv[1:]))
"""


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The capture host; yields the file that gets one line per connection it accepted."""
    log = tmp_path_factory.mktemp("capture") / "connections.txt"
    log.touch()
    proc = None
    try:
        _sh("ip", "netns", "add", NS)
        _sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        _sh("ip", "link", "set", NS_IF, "netns", NS)
        _sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
        _sh("ip", "link", "set", HOST_IF, "up")
        _sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{CAPTURE_IP}/30", "dev", NS_IF)
        _sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
        _sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                NS,
                sys.executable,
                "-c",
                CAPTURE,
                str(log),
                CAPTURE_IP,
                str(PORT),
            ]
        )
        for _ in range(100):  # bounded: until the capture server accepts
            try:
                _sync(log)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the capture server did not come up")
        log.write_text("")  # forget the readiness probe
        yield log
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=30)


@pytest.fixture
def capture_log(capture: Path) -> Path:
    """The capture log, emptied for this test."""
    capture.write_text("")
    return capture


_PROBES: set[str] = set()  # the barrier's own accept lines, left out of what a run sent


def _sync(log: Path) -> str:
    """Connect as a probe and wait (bounded) until the capture host logs its accept.

    Accepts are logged in accept order, so every connection made before the probe (by a
    process that has exited) is in the log once the probe's line is. Returns that line."""
    with socket.create_connection((CAPTURE_IP, PORT), timeout=5) as probe:
        line = f"accept {probe.getsockname()[1]}"
        _PROBES.add(line)
        for _ in range(600):
            if line in log.read_text().splitlines():
                return line
            time.sleep(0.05)
    raise AssertionError(f"the capture host never logged the probe ({line})")


def _seen(log: Path) -> list[str]:
    """The connections the capture host accepted, up to now (the run has ended)."""
    probe = _sync(log)
    lines = log.read_text().splitlines()
    return [
        ln for ln in lines[: lines.index(probe)] if ln.startswith("accept ") and ln not in _PROBES
    ]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


class _Redirect:
    """A loopback server whose every answer is a 302 to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> _Redirect:
        code = textwrap.dedent(
            f"""
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(302)
                    self.send_header("Location", {self.target!r})
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                def log_message(self, *a):
                    pass
            s = http.server.HTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{self.proc.stdout.readline().strip()}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_preflight_redirect_to_another_host_sends_nothing_there(
    tmp_path: Path, capture_log: Path
) -> None:
    away = f"http://{CAPTURE_IP}:{PORT}/api/v1/health"
    with _Redirect(away) as red:
        res = _cli(write_script(tmp_path, FLOW), "-e", f"BASE_URL={red.url}")
        assert res.returncode == 108, res.stderr
        assert f"--allow-host {CAPTURE_IP}" in res.stderr and "redirected" in res.stderr
        assert res.stderr.count("\n") == 1
        assert _seen(capture_log) == []
        # The same hop, allowed: the capture host sees it (so the test above could tell).
        res = _cli(
            write_script(tmp_path, FLOW), "-e", f"BASE_URL={red.url}", "--allow-host", CAPTURE_IP
        )
    assert res.returncode == 108 and "answered 503" in res.stderr, res.stderr
    assert len(_seen(capture_log)) == 1


PROXIES = {
    name: f"http://{CAPTURE_IP}:{PORT}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
}


def test_proxy_env_is_never_used(tmp_path: Path, capture_log: Path) -> None:
    with EmulatorThread(EmulatorConfig(fail_health=True)) as emu:
        res = _cli(
            write_script(tmp_path, FLOW),
            "-e",
            f"BASE_URL={emu.base_url}",
            env={**PROXIES, "NO_PROXY": ""},
        )
        # The emulator's own 503 came back: the GET went straight to it.
        assert res.returncode == 108 and "answered 503" in res.stderr, res.stderr
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, emu.base_url + "/api/v1/tracks"],
            capture_output=True,
            text=True,
            env={**os.environ, **PROXIES, "NO_PROXY": ""},
            timeout=120,
        )
    assert probe.returncode == 0, probe.stderr
    got = json.loads(probe.stdout)
    assert [(c, s) for c, _, s, _ in got] == [("lean", 200)]
    assert _seen(capture_log) == []


def test_vu_redirect_to_another_host_is_refused_on_both_paths(capture_log: Path) -> None:
    away = f"http://{CAPTURE_IP}:{PORT}/x"
    with _Redirect(away) as red:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, red.url + "/start"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert probe.returncode == 0, probe.stderr
    assert [(c, s, e) for c, _, s, e in json.loads(probe.stdout)] == [
        ("lean", 0, 1111),
    ]
    assert _seen(capture_log) == []


def _in_private_hosts(tmp_path: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` where /etc/hosts says evil.localhost is the capture host: a private
    mount namespace with a bind-mounted copy, so the machine's file is never touched."""
    hosts = tmp_path / "hosts"
    hosts.write_text(Path("/etc/hosts").read_text() + f"\n{CAPTURE_IP} evil.localhost\n")
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(hosts), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_localhost_name_resolving_elsewhere_is_refused_before_connecting(
    tmp_path: Path, capture_log: Path
) -> None:
    # The resolution is real: inside, the name does point at the capture host.
    got = _in_private_hosts(tmp_path, ["getent", "hosts", "evil.localhost"])
    assert got.stdout.split()[:1] == [CAPTURE_IP], got
    url = f"http://evil.localhost:{PORT}"
    res = _in_private_hosts(
        tmp_path,
        [
            *CLI,
            "run",
            write_script(tmp_path, FLOW),
            "-e",
            f"BASE_URL={url}",
        ],
    )
    assert res.returncode == 108, res.stderr
    assert f"resolves to {CAPTURE_IP}" in res.stderr and "--allow-host evil.localhost" in res.stderr
    probe = _in_private_hosts(tmp_path, [sys.executable, "-c", PROBE, url + "/x"])
    assert probe.returncode == 0, probe.stderr
    assert [(c, s, e) for c, _, s, e in json.loads(probe.stdout)] == [
        ("lean", 0, 1111),
    ]
    assert _seen(capture_log) == []
