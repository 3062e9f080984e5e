"""The dashboard's server on 127.0.0.1 (real aiohttp, real sockets, no Ray): streams, the
end that closes every open page, k6's status API and its refusals, a taken port."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

from veza_ray.core.dashboard_config import DashboardConfig
from veza_ray.outputs.base import OutputContext, RunStart
from veza_ray.outputs.dashboard import DashboardOutput
from veza_ray.outputs.dashboard_server import DashboardServer

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "summary_veza_mixed.json"


def _summary(running: bool) -> dict[str, Any]:
    s: dict[str, Any] = json.loads(FIXTURE.read_text())
    if running:
        s["veza_ray"]["live"] = {"running": True, "elapsed_s": 3.0, "planned_s": 9.0}
    return s


def _request(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    out = (resp.status, json.loads(resp.read() or b"null"))
    conn.close()
    return out


def test_a_stream_gets_every_state_and_the_end_closes_it() -> None:
    stops: list[str] = []
    server = DashboardServer("127.0.0.1", 0, None, 1.0, stops.append)
    port = server.start()
    server.publish(_summary(True), {"vus": 3, "vus_max": 5})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    assert resp.getheader("Content-Type") == "text/event-stream"
    first = b""
    while b"event: update" not in first:
        first += resp.fp.readline()
    data = json.loads(resp.fp.readline().split(b"data: ", 1)[1])
    assert data["running"] is True and data["verdict"] == "RUNNING"
    server.close(_summary(False))  # the run's end, with this page still open
    rest = resp.fp.read()  # raw (chunked) to EOF: returns only because the server ended it
    conn.close()
    assert rest.count(b"event: update") == 1 and b"event: end\ndata: {}\n\n" in rest
    final = json.loads(rest.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    assert final["running"] is False and final["verdict"] == "PASS" and final["exit_code"] == 0
    assert not server.thread.is_alive() and stops == []


def test_status_and_stop_as_k6_and_the_refusals() -> None:
    stops: list[str] = []
    server = DashboardServer("127.0.0.1", 0, None, 1.0, stops.append)
    port = server.start()
    try:
        server.publish(_summary(True), {"vus": 3, "vus_max": 5})
        code, doc = _request(port, "GET", "/v1/status")
        attrs = doc["data"]["attributes"]
        assert code == 200 and attrs["vus-max"] in (0, 5) and attrs["running"] is True
        stop = {"data": {"attributes": {"stopped": True}}}
        json_ct = {"Content-Type": "application/json"}
        assert _request(port, "PATCH", "/v1/status", stop, Origin="http://evil.test",
                        **json_ct)[0] == 403  # fmt: skip
        assert (
            _request(port, "PATCH", "/v1/status", stop, **{"Content-Type": "text/plain"})[0] == 415
        )
        # A DNS name rebound to 127.0.0.1 gets nothing from a loopback-bound dashboard.
        assert _request(port, "GET", "/v1/status", Host="attacker.example:5665")[0] == 403
        assert _request(port, "GET", "/v1/status", Host=f"localhost:{port}")[0] == 200
        paused = {"data": {"attributes": {"paused": True}}}
        assert _request(port, "PATCH", "/v1/status", paused, **json_ct)[0] == 400
        assert stops == []
        code, doc = _request(port, "PATCH", "/v1/status", stop, **json_ct)
        assert code == 200 and doc["data"]["attributes"]["stopped"] is True
        _request(port, "PATCH", "/v1/status", stop, **json_ct)
        assert stops == ["the web dashboard"]  # once
    finally:
        server.close(None)


def test_a_taken_port_is_an_output_lost() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        logged: list[str] = []
        out = DashboardOutput(
            DashboardConfig("127.0.0.1", port, 1.0, False),
            OutputContext({}, frozenset(), logged.append),
        )
        out.start(RunStart("s.py", 0.0, 10.0, ("a",)))
        end = out.end()
    assert end.lost and f"127.0.0.1:{port}" in end.lost[0]
    assert logged and "no web dashboard" in logged[0]
