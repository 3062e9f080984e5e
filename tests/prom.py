"""A real Prometheus (the Debian package) on loopback for the remote-write tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


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
