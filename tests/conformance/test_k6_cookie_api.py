"""k6's cookie API (``res.cookies``, ``http.cookieJar()``, ``new http.CookieJar()``, the
``jar`` param) and ``responseCallback: null`` against real k6, on one byte-exact server.

The same steps run once in k6 (``k6_cookie_api.js``) and once in veza-ray through its
CLI (``vr_cookie_api.py``), one VU, one iteration. Compared: what each step printed
(``res.cookies`` field by field, ``cookiesForURL`` value lists in order), every request
the server read with its ``Cookie`` line, and the summary's view of expected-status
tagging (http_reqs by ``expected_response``, whether ``http_req_failed`` and
``http_req_duration{expected_response:true}`` exist at all). Run with the callback set
per request and per VU, and with ``http.setResponseCallback(null)`` in init code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli import CLI
from rawserver import CaseServer, Conn, LoopThread, Seen, response
from requires import find_k6, requires

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

pytestmark = [pytest.mark.ray, requires("k6")]

SET = [
    "a=1",
    "a=2; Path=/p",
    'b="q v"; Domain=.127.0.0.1; HttpOnly; Secure; Max-Age=60',
    "c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT; SameSite=Lax",
    "d=4; Max-Age=0",
    "e=5; Max-Age=-3",
    "f=6; Max-Age=05",
    "bad name=1",
    "g=x y",
    "h=; Path=/p/",
    "i=7; Priority=High; Partitioned",
    "j=8; Expires=bogus",
    "sp= 1",
    'pq=1; Path="/x"',
    "t1=1; Expires=Thu, 01-Jan-2037 00:00:01 GMT",
    "t2=1; Expires=Thu, 01 Jan 2037 00:00:00 GMT+2",
    "t3=1; Expires=Thu, 01 Jan 2037 00:00:00 CET",
    "t4=1; Expires=Thursday, 01-Jan-37 00:00:00 GMT",
    "t5=1; Expires=thu, 01 jan 2037 0:00:00 UTC",
]

ROUTES = {
    "/set": response(b"set", headers=b"".join(b"Set-Cookie: %s\r\n" % s.encode() for s in SET)),
    "/redir": response(b"", "302 Found", b"Location: /landed\r\nSet-Cookie: r=1\r\n"),
    "/landed": response(b"landed", headers=b"Set-Cookie: l=2; Path=/\r\n"),
    "/set2": response(b"set2", headers=b"Set-Cookie: n=1\r\n"),
    "/404": response(b"nf", "404 Not Found"),
}


async def _serve(conn: Conn, req: Seen) -> None:
    await conn.send(ROUTES.get(req.target, response(b"ok")))


def _refused_url() -> str:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _k6(tmp: Path, env: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    k6 = find_k6()
    assert k6 is not None
    console, summary = tmp / "k6.log", tmp / "k6-summary.json"
    cmd = [k6, "run", "-q", "--no-usage-report", "--log-format", "json"]
    cmd += ["--console-output", str(console), "--summary-export", str(summary)]
    cmd += [f"-e{k}={v}" for k, v in env.items() if k in ("BASE", "REFUSED", "GLOBAL")]
    _run([*cmd, str(HERE / "k6_cookie_api.js")], env)
    lines = [json.loads(json.loads(raw)["msg"]) for raw in console.read_text().splitlines()]
    return lines, json.loads(summary.read_text())


def _veza(tmp: Path, env: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    results, summary = tmp / "vr.jsonl", tmp / "vr-summary.json"
    cmd = [*CLI, "run", str(HERE / "vr_cookie_api.py"), "--actors", "1", "-q"]
    cmd += ["--no-preflight", "--summary-export", str(summary), "-e", f"RESULTS={results}"]
    cmd += [f"-e{k}={v}" for k, v in env.items() if k in ("BASE", "REFUSED", "GLOBAL")]
    _run(cmd, env)
    lines = [json.loads(raw) for raw in results.read_text().splitlines()]
    return lines, json.loads(summary.read_text())


def _count(summary: dict[str, Any], key: str, field: str) -> float | None:
    entry = summary["metrics"].get(key)
    if entry is None:
        return None
    return float(entry.get("values", entry)[field])


def _tagging(summary: dict[str, Any]) -> dict[str, Any]:
    """What a summary says about expected-status tagging."""
    failed = summary["metrics"].get("http_req_failed")
    return {
        "expected": _count(summary, "http_reqs{expected_response:true}", "count"),
        "unexpected": _count(summary, "http_reqs{expected_response:false}", "count"),
        "cb:null": _count(summary, "http_reqs{cb:null}", "count"),
        "http_reqs": _count(summary, "http_reqs", "count"),
        "http_req_failed": None
        if failed is None
        else (
            _count(summary, "http_req_failed", "passes"),
            _count(summary, "http_req_failed", "fails"),
        ),
        "expected submetric": "http_req_duration{expected_response:true}" in summary["metrics"],
    }


@pytest.mark.parametrize("mode", ["per-request", "global-null"])
def test_cookie_api_and_null_callback_as_k6(tmp_path: Path, mode: str) -> None:
    loop = LoopThread()
    server = CaseServer(_serve, None)
    try:
        loop.call(server.start())
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BASE": f"http://127.0.0.1:{server.port}",
            "REFUSED": _refused_url(),
            "GLOBAL": "1" if mode == "global-null" else "0",
        }
        k6_lines, k6_sum = _k6(tmp_path, env)
        k6_seen, _ = server.take()
        vr_lines, vr_sum = _veza(tmp_path, env)
        vr_seen, _ = server.take()
    finally:
        loop.call(server.stop())
        loop.stop()

    def wire(seen: list[Seen]) -> list[tuple[str, list[str]]]:
        return [(s.target, [v for k, v in s.headers if k.lower() == "cookie"]) for s in seen]

    k6_steps = {ln["step"]: ln["value"] for ln in k6_lines}
    vr_steps = {ln["step"]: ln["value"] for ln in vr_lines}
    assert len(k6_steps) == 11, k6_lines
    diffs = [
        f"{step}:\n    k6:       {json.dumps(k6_steps[step], sort_keys=True)}"
        f"\n    veza-ray: {json.dumps(vr_steps.get(step), sort_keys=True)}"
        for step in k6_steps
        if vr_steps.get(step) != k6_steps[step]
    ]
    assert not diffs, "\n".join(diffs)
    assert wire(vr_seen) == wire(k6_seen)
    assert _tagging(vr_sum) == _tagging(k6_sum)
    # and what k6 showed, so the comparison cannot pass with both sides empty
    tagging = _tagging(k6_sum)
    assert tagging["cb:null"] == 3
    if mode == "global-null":  # no request had a callback until the VU set one (404s)
        assert tagging["expected"] == 1 and tagging["unexpected"] == 0
        assert tagging["http_req_failed"] == (0.0, 1.0)
    else:
        assert tagging["http_req_failed"] is not None and tagging["expected submetric"]
    assert k6_steps["res.cookies after a redirect"] == {
        "l": [{"name": "l", "value": "2", "domain": "", "path": "/", "http_only": False,
               "secure": False, "max_age": 0, "expires": -6795364578871}],
    }  # fmt: skip
    assert ("/own", ["mine=1"]) in wire(k6_seen)
