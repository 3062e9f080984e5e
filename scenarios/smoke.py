"""A smoke scenario: two short constant-vus scenarios against the demo target.

Start a target first:  veza-ray target --port 8080
Then:                  veza-ray run scenarios/smoke.py
"""

from veza_ray import Trend, check, env, sleep

BASE_URL = (env("BASE_URL", "http://127.0.0.1:8080") or "").rstrip("/")
DURATION = env("DURATION", "5s")

health_time = Trend("health_time", time=True)

options = {
    "scenarios": {
        "health": {
            "executor": "constant-vus",
            "vus": 2,
            "duration": DURATION,
            "exec": "health",
        },
        "browse": {
            "executor": "constant-vus",
            "vus": 4,
            "duration": DURATION,
            "exec": "browse",
            "tags": {"flow": "browse"},
        },
    },
    "thresholds": {
        "http_req_failed": ["rate<0.01"],
        "http_req_duration": ["p(95)<500"],
        "http_req_duration{scenario:browse}": ["p(99)<1000"],
        "checks": ["rate>0.99"],
    },
}


async def health(vu):
    res = await vu.http.get(f"{BASE_URL}/api/v1/health", tags={"name": "health"})
    check(res, {"health is 200": lambda r: r.status == 200})
    health_time.add(res.timings.duration)
    await sleep(0.1)


async def browse(vu):
    res = await vu.http.get(f"{BASE_URL}/api/v1/tracks?page=1&limit=20", tags={"name": "list"})
    check(res, {"list is 200": lambda r: r.status == 200})
    await sleep(0.2)
