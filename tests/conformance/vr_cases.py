"""The conformance cases as veza-ray makes them: one iteration, every case in order, one
JSON line per request in RESULTS. The cases come from tests/conformance/wire.py (CASES)."""

import json

from veza_ray import env, file

with open(env("CASES") or "") as f:
    CASES = json.load(f)

thresholds = {}
for c in CASES:
    thresholds[f"http_reqs{{case:{c['name']}}}"] = ["count>=0"]
    thresholds[f"http_req_failed{{case:{c['name']}}}"] = ["rate>=0"]
    thresholds[f"http_reqs{{case:{c['name']},proto:HTTP/1.1}}"] = ["count>=0"]
    thresholds[f"http_reqs{{url:{c['reqs'][0]['url']}}}"] = ["count>=0"]

options = {
    "scenarios": {
        "conformance": {
            "executor": "per-vu-iterations",
            "vus": 1,
            "iterations": 1,
            "maxDuration": "300s",
        }
    },
    "userAgent": "conformance/1",
    "thresholds": thresholds,
}


def body(spec):
    if spec is None or isinstance(spec, str):
        return spec
    if "form" in spec:
        return spec["form"]
    out = dict(spec["multipart"]["fields"])
    for k, (data, name, ctype) in spec["multipart"]["files"].items():
        out[k] = file(data, name, ctype)
    return out


# k6's request params (as the case gives them) and their veza-ray keyword
PARAMS = {"timeout": "timeout", "redirects": "redirects", "cookies": "cookies"}


async def default(vu):
    with open(env("RESULTS") or "", "w") as out:
        for c in CASES:
            for i, r in enumerate(c["reqs"]):
                kw = {"timeout": r["timeout"], **{PARAMS[k]: v for k, v in r["params"].items()}}
                res = await vu.http.request(
                    r["method"],
                    r["url"],
                    headers=r["headers"],
                    data=body(r["body"]),
                    tags={"case": c["name"]},
                    **kw,
                )
                shown = {h: res.headers.get(h) for h in r["show"]}
                text = None if res.body is None else res.body.decode("utf-8", "replace")
                line = {
                    "case": c["name"],
                    "i": i,
                    "status": res.status,
                    "status_text": res.status_text,
                    "url": res.url,
                    "body": text,
                    "error_code": res.error_code,
                    "headers": shown,
                }
                out.write(json.dumps(line) + "\n")
