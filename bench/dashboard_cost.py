"""What the web dashboard costs: the driver's loop with 0, 1, 10 and 50 open pages, and a
page's update in Chromium at 100 scenarios x their series.

    python -m bench.dashboard_cost [--save] [--runs N]

Part 1 runs ``veza-ray run --demo`` (2 actors, a local Ray, 12 s, period 1 s) with N
server-sent-event clients (aiohttp, in this process) reading every update, and reads
what the dashboard measured of itself from the summary: the driver thread's time per
published state (building the live summary: all the driver pays) and the server
thread's CPU per state (rendering once, writing to every client; it runs beside the
driver and competes with it for the GIL). Part 2 renders a synthetic 100-scenario run
(300 intervals each: 400 charts), opens the real page in Debian's Chromium (Playwright)
and times ``vrApply`` (replace the body, then force layout) over 10 updates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
from veza_ray import check, env, sleep
options = {
    "scenarios": {
        "browse": {"executor": "constant-vus", "vus": 4, "duration": "12s", "exec": "browse"},
        "health": {"executor": "constant-arrival-rate", "rate": 20, "timeUnit": "1s",
                   "duration": "12s", "preAllocatedVUs": 4, "exec": "health"},
    },
    "thresholds": {"http_req_duration{scenario:browse}": ["p(95)<2000"],
                   "checks": ["rate>0.5"]},
}
async def browse(vu):
    r = await vu.http.get(env("BASE_URL") + "/api/v1/search?q=a")
    check(r, {"200": lambda r: r.status == 200})
    await sleep(0.1)
async def health(vu):
    await vu.http.get(env("BASE_URL") + "/api/v1/health")
"""


async def _clients(url: str, n: int, stop: threading.Event, got: list[int]) -> None:
    import aiohttp

    async def one(session: aiohttp.ClientSession) -> None:
        async with session.get(url + "events") as resp:
            async for line in resp.content:
                if line.startswith(b"event: update"):
                    got[0] += 1
                if stop.is_set():
                    return

    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(session) for _ in range(n)), return_exceptions=True)


def driver_case(n_clients: int, workdir: Path) -> dict[str, Any]:
    script = workdir / "dash_bench.py"
    script.write_text(SCRIPT)
    summary = workdir / f"summary-{n_clients}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VEZA_RAY_ALLOW_SATURATED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "veza_ray.cli",
        "run",
        str(script),
        "--demo",
        "--actors",
        "2",
        "--quiet",
        "--out",
        "web-dashboard=port=0&period=1s",
        "--summary-export",
        str(summary),
    ]
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stderr is not None
    url = ""
    for line in proc.stderr:
        m = re.search(r"web dashboard on (http://[^ /]+/)", line)
        if m:
            url = m.group(1)
            break
    stop, got = threading.Event(), [0]
    reader = None
    if url and n_clients:
        reader = threading.Thread(
            target=lambda: asyncio.run(_clients(url, n_clients, stop, got)), daemon=True
        )
        reader.start()
    proc.stderr.read()
    code = proc.wait()
    stop.set()
    if reader is not None:
        reader.join(10)
    out = json.loads(summary.read_text())["veza_ray"]["outputs"]["web-dashboard"]
    states = max(1, int(out["states"]))
    return {
        "clients": n_clients,
        "exit_code": code,
        "states": out["states"],
        "updates_received": got[0],
        "driver_ms_p50": out["driver_ms_p50"],
        "driver_ms_max": out["driver_ms_max"],
        "render_ms_p50": out.get("render_ms_p50"),
        "server_cpu_ms_per_state": round(1000.0 * (out.get("server_cpu_s") or 0.0) / states, 2),
    }


def synthetic_summary(n_scenarios: int = 100, n_points: int = 300) -> dict[str, Any]:
    """A run of ``n_scenarios`` scenarios with ``n_points`` intervals each, still going."""
    names = [f"scenario_{i:03d}" for i in range(n_scenarios)]
    intervals = [
        {
            "t": float(t + 1),
            "scenarios": {
                n: {
                    "reqs": 50.0 + (t * 7 + i) % 13,
                    "rps": 50.0 + (t * 7 + i) % 13,
                    "p95": 20.0 + (t + i) % 17,
                    "p99": 40.0 + (t * 3 + i) % 29,
                    "error_rate": ((t + i) % 50) / 5000.0,
                    "vus": 10.0,
                }
                for i, n in enumerate(names)
            },
        }
        for t in range(n_points)
    ]
    grid = {f"p({q:g})": 10.0 + q * 0.3 for q in (*range(0, 100, 2), 95, 99, 99.9, 100)}
    verdicts = [
        {
            "metric_key": f"http_req_duration{{scenario:{n}}}",
            "expression": "p(95)<500",
            "aggregation": "p(95)",
            "operator": "<",
            "bound": 500.0,
            "observed": 38.5,
            "ok": True,
            "abort_on_fail": i % 10 == 0,
        }
        for i, n in enumerate(names)
    ]
    return {
        "metrics": {
            "http_reqs": {
                "type": "counter",
                "contains": "default",
                "values": {"count": 1e6, "rate": 5e3},
            },
            "http_req_duration": {
                "type": "trend",
                "contains": "time",
                "values": {"avg": 20.0, "p(95)": 38.0},
            },
        },
        "veza_ray": {
            "scenarios": names,
            "intervals": intervals,
            "verdicts": verdicts,
            "distributions": {
                n: {"count": 15000, "quantiles": grid, "centroids": []} for n in names
            },
            "actors": [
                {
                    "id": i,
                    "node_id": f"n{i % 4}",
                    "address": f"10.0.0.{i % 4}",
                    "pid": 100 + i,
                    "vus": {n: 1 for n in names[:10]},
                    "lost": False,
                }
                for i in range(32)
            ],
            "live": {"running": True, "elapsed_s": 300.0, "planned_s": 600.0},
        },
    }


def browser_case(updates: int = 10) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from veza_ray.outputs.dashboard_server import DashboardServer
    from veza_ray.reports.dashboard_page import event

    summary = synthetic_summary()
    t0 = time.perf_counter()
    ev = event(summary, 1)
    render_ms = (time.perf_counter() - t0) * 1000.0
    frame_kib = len(json.dumps(ev)) / 1024.0
    server = DashboardServer("127.0.0.1", 0, None, 1.0, lambda why: None)
    port = server.start()
    server.publish(summary, {"vus": 0, "vus_max": 0})
    times: list[float] = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.body.dataset.seq >= 1", timeout=120_000)
            for i in range(updates):
                ev["seq"] = 100 + i
                ms = page.evaluate(
                    "(d) => { const t0 = performance.now(); window.vrApply(d);"
                    " void document.body.offsetHeight; return performance.now() - t0; }",
                    ev,
                )
                times.append(float(ms))
            b.close()
    finally:
        server.close(None)
    return {
        "scenarios": 100,
        "intervals": 300,
        "charts": 400,
        "server_render_ms": round(render_ms, 1),
        "frame_kib": round(frame_kib, 1),
        "page_update_ms_median": round(statistics.median(times), 1),
        "page_update_ms_max": round(max(times), 1),
        "updates": updates,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--clients", default="0,1,10,50")
    args = ap.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = list(os.getloadavg())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.clients.split(",")):
            rows.append(driver_case(n, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    browser = browser_case()
    print(json.dumps(browser), flush=True)
    result = {
        "command": "python -m bench.dashboard_cost --save",
        "started": started,
        "loadavg_start": load_start,
        "loadavg_end": list(os.getloadavg()),
        "driver": rows,
        "browser": browser,
    }
    if args.save:
        from bench import harness as H

        print(H.write_result("dashboard", result))


if __name__ == "__main__":
    main()
