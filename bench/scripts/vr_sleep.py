"""Memory case: every VU sleeps 1 s between requests (k6_sleep.js's equivalent)."""

from veza_ray import env, sleep

URL = env("URL", "http://127.0.0.1:18080/") or ""

options = {
    "discardResponseBodies": True,
    "scenarios": {
        "idle": {
            "executor": "constant-vus",
            "vus": int(env("VUS", "1000") or "1000"),
            "duration": env("DURATION", "10s"),
            "gracefulStop": "2s",
        }
    },
}


async def default(vu):
    await vu.http.get(URL)
    await sleep(1)
