"""One actor's sustained req/s: 50 VUs, no think time, GET of a tiny body.

Run against a target in another process (e.g. `taskset -c 1 veza-ray target --profile none
--port 18081`), then `taskset -c 0 veza-ray run bench/throughput.py --actors 1 -q
-e BASE_URL=http://127.0.0.1:18081 --summary-export /tmp/bench.json`.
"""

from veza_ray import env

BASE_URL = (env("BASE_URL", "http://127.0.0.1:18081") or "").rstrip("/")

options = {
    "discardResponseBodies": True,
    "scenarios": {
        "hammer": {
            "executor": "constant-vus",
            "vus": int(env("VUS", "50") or "50"),
            "duration": env("DURATION", "10s"),
            "gracefulStop": "2s",
        }
    },
}


async def default(vu):
    await vu.http.get(f"{BASE_URL}/api/v1/health", tags={"name": "health"})
