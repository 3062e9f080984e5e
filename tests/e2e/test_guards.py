"""Guard rails: refused hosts, the pre-flight health check, and secrets kept out of output."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import KnownServer, veza, write_script

from veza_ray.cluster.preflight import PreflightFailed, check
from veza_ray.emulator import EmulatorConfig, EmulatorThread

FLOW = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 3}}}
async def default(vu):
    await vu.http.get(env("BASE_URL") + "/api/v1/tracks")
"""


@pytest.mark.parametrize("host", ["staging.veza.fr", "haproxy.lxd", "api.example.invalid"])
def test_non_loopback_base_url_is_refused(tmp_path: Path, host: str) -> None:
    res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL=https://{host}")
    assert res.returncode == 104
    assert host in res.stderr and "--allow-host" in res.stderr
    assert res.stdout == ""


def test_allow_host_lifts_the_refusal_up_to_preflight(tmp_path: Path) -> None:
    # Allowed, so the guard passes; the pre-flight then fails on DNS (.invalid never resolves)
    res = veza(
        "run",
        write_script(tmp_path, FLOW),
        "-e",
        "BASE_URL=http://staging.veza.invalid",
        "--allow-host",
        "staging.veza.invalid",
    )
    assert res.returncode == 108, res.stderr
    assert "pre-flight health check failed" in res.stderr


def test_preflight_failure_sends_nothing_else(tmp_path: Path) -> None:
    with EmulatorThread(EmulatorConfig(fail_health=True)) as emu:
        res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL={emu.base_url}")
        with urllib.request.urlopen(emu.base_url + "/__stats") as resp:
            stats = json.loads(resp.read())
    assert res.returncode == 108, res.stderr
    assert "pre-flight health check failed" in res.stderr and "503" in res.stderr
    assert stats["total"] == 0


def test_preflight_connection_refused(tmp_path: Path) -> None:
    res = veza("run", write_script(tmp_path, FLOW), "-e", "BASE_URL=http://127.0.0.1:1")
    assert res.returncode == 108
    assert "pre-flight health check failed" in res.stderr


@pytest.mark.ray
def test_secrets_never_reach_output(tmp_path: Path, known_server: KnownServer) -> None:
    secret = "s3cr3t-token-value-123"
    script = write_script(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 2}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast",
                              headers={"Authorization": "Bearer " + env("USER_TOKEN")})
            print("calling with token", env("USER_TOKEN"), "and key", env("API_KEY"))
            raise RuntimeError("Authorization: Bearer " + env("USER_TOKEN"))
        """,
    )
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "1",
        "-e",
        f"URL={known_server.url}",
        "-e",
        f"USER_TOKEN={secret}",
        "-e",
        "API_KEY=another-secret-999",
        "--summary-export",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr + out.read_text()
    assert secret not in text
    assert "another-secret-999" not in text
    assert "***" in json.dumps(json.loads(out.read_text())["veza_ray"]["errors"])
    assert known_server.counts["fast"] == 2


# ---- the pre-flight against hostile answers: one line, exit 108, one total deadline ------


class RawServer:
    """A loopback TCP server answering every connection with ``answer(conn)`` (bounded)."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self._answer = answer
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                    self._answer(conn)
                except OSError:
                    pass


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"HELLO THERE\r\n\r\n")


def _many_headers(conn: socket.socket) -> None:
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\n" + lines + b"Content-Length: 0\r\n\r\n")


def _trickle(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":  # bounded: ~40 bytes
        conn.sendall(bytes([byte]))
        time.sleep(2.0)


def _away(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example.invalid/health\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        pytest.param(_garbage, "malformed", id="garbage-status-line"),
        pytest.param(_many_headers, "answered 503", id="150-headers"),
        pytest.param(_trickle, "no complete answer within 5s", id="one-byte-every-2s"),
        pytest.param(_away, "--allow-host elsewhere.example.invalid", id="redirect-away"),
    ],
)
def test_preflight_bad_answers_are_one_line_108(
    tmp_path: Path, answer: Callable[[socket.socket], None], needle: str
) -> None:
    with RawServer(answer) as srv:
        t0 = time.monotonic()
        res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL={srv.url}")
        took = time.monotonic() - t0
    assert res.returncode == 108, res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert "pre-flight health check failed" in res.stderr and needle in res.stderr
    assert srv.connections == 1
    print(f"{needle}: exit 108 after {took:.1f}s")  # the deadline is 5 s in all


def test_preflight_redirect_loop_is_bounded(tmp_path: Path) -> None:
    def loop(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")

    with RawServer(loop) as srv:
        res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL={srv.url}")
    assert res.returncode == 108, res.stderr
    assert "more than 10 redirects" in res.stderr
    assert srv.connections == 11


def test_preflight_accepts_a_2xx_with_many_headers() -> None:
    """urllib refused more than 100 headers with a traceback; a 2xx is a 2xx."""

    def ok(conn: socket.socket) -> None:
        lines = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")

    with RawServer(ok) as srv:
        check(srv.url + "/api/v1/health", frozenset(), 5.0)
    assert srv.connections == 1


def test_preflight_deadline_covers_the_whole_exchange() -> None:
    with RawServer(_trickle) as srv, pytest.raises(PreflightFailed) as info:
        check(srv.url + "/api/v1/health", frozenset(), 1.0)
    assert "no complete answer within 1s" in str(info.value)
