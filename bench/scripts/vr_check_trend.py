"""veza-ray with full instrumentation: k6's per-phase timings (always on), a request tag,
a check() and a custom Trend per iteration; the k6_check_trend.js equivalent."""

from veza_ray import Trend, check, env

URL = env("URL", "http://127.0.0.1:18080/") or ""
ttfb = Trend("ttfb_ms", time=True)

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
    res = await vu.http.get(URL, tags={"name": "hammer"})
    check(res, {"status 200": lambda r: r.status == 200})
    ttfb.add(res.timings.waiting)
