"""A real Prometheus (the Debian package) on loopback for the remote-write tests."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from requires import find_prometheus

PROMETHEUS = find_prometheus() or "prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """Started with --web.enable-remote-write-receiver and its storage in ``tmp``;
    stopped by its pid on exit."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return self.base + "/api/v1/write"

    def __enter__(self) -> Prometheus:
        self.tmp.mkdir(parents=True, exist_ok=True)
        config = self.tmp / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        self.log = open(self.tmp / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(600):  # bounded: ~2 min for a loaded CI machine
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "prometheus exited: " + (self.tmp / "prometheus.log").read_text()[-2000:]
                )
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query over the HTTP API: the result vector."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float:
        """The one value a query must return."""
        result = self.query(promql)
        assert len(result) == 1, (promql, result)
        return float(result[0]["value"][1])


class Endpoint:
    """A loopback remote-write endpoint answering ``status``; ``hold`` keeps each request
    waiting until the test ends (at most 60 s), like a Prometheus stuck on a slow disk."""

    def __init__(self, status: int = 204, hold: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.headers.append(dict(self.headers))
                if hold:
                    outer.release.wait(60)
                outer.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/write"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> int:
        """Requests received so far, held ones included."""
        return len(self.headers)

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


DASHBOARD = Path(__file__).resolve().parent.parent / "grafana" / "veza-gate-dashboard.json"


def dashboard_exprs() -> list[str]:
    """Every PromQL expression in the dashboard: panel targets and template queries."""
    dash = json.loads(DASHBOARD.read_text())
    out = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            out.append(q["query"])
    return out


def dashboard_metric_names() -> set[str]:
    """The k6_* metric names the dashboard's PromQL reads."""
    import re

    return {m for e in dashboard_exprs() for m in re.findall(r"\bk6_[A-Za-z0-9_]+", e)}
