"""veza-ray plain: one GET per iteration (k6_plain.js's equivalent); per-phase timings and
the built-in metrics are still recorded, as they always are."""

from veza_ray import env

URL = env("URL", "http://127.0.0.1:18080/") or ""

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
    await vu.http.get(URL)
