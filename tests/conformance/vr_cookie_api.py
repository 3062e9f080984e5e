"""k6_cookie_api.js in veza-ray, line for line (tests/conformance/test_k6_cookie_api.py)."""

import json

from veza_ray import CookieJar, env, set_response_callback

options = {
    "scenarios": {
        "api": {"executor": "per-vu-iterations", "vus": 1, "iterations": 1, "maxDuration": "120s"}
    },
    "thresholds": {
        "http_reqs{expected_response:true}": ["count>=0"],
        "http_reqs{expected_response:false}": ["count>=0"],
        "http_reqs{cb:null}": ["count>=0"],
    },
}

if env("GLOBAL") == "1":
    set_response_callback(None)


def shown(cookies):
    return {name: [c.as_dict() for c in cs] for name, cs in cookies.items()}


async def default(vu):
    u, refused = env("BASE"), env("REFUSED")
    http = vu.http
    jar = http.cookie_jar()
    with open(env("RESULTS"), "w") as fh:

        def out(step, value):
            fh.write(json.dumps({"step": step, "value": value}) + "\n")

        out("res.cookies /set", shown((await http.get(f"{u}/set")).cookies))
        out("res.cookies after a redirect", shown((await http.get(f"{u}/redir")).cookies))
        out("res.cookies none", shown((await http.get(f"{u}/404")).cookies))
        out("res.cookies no response", shown((await http.get(refused)).cookies))
        out("jar for /p/x", jar.cookies_for_url(f"{u}/p/x"))
        jar.set(u, "k", "v", {"path": "/p", "max_age": 100})
        jar.set(f"{u}/p/q/r", "k2", "v2")
        jar.set(u, "k3", "v 3,4")
        jar.set(u, "old", "1", {"expires": "Thu, 01 Jan 1970 00:00:00 GMT"})
        jar.set(u, "dom", "1", {"domain": "127.0.0.1"})
        jar.set(u, "dom2", "1", {"domain": ".127.0.0.1"})
        jar.set(u, "semi", 'a;b"c\\d')
        jar.set(u, "sec", "1", {"secure": True})
        out("jar after set", jar.cookies_for_url(f"{u}/p/q/r"))
        out("jar for https", jar.cookies_for_url(u.replace("http:", "https:") + "/"))
        await http.get(f"{u}/p/q/r")
        jar.delete(u, "a")
        jar.delete(u, "k")
        out("jar after delete", jar.cookies_for_url(f"{u}/p/q/r"))
        jar.clear(f"{u}/p/q/r")
        out("jar after clear", jar.cookies_for_url(f"{u}/p/q/r"))
        await http.get(f"{u}/p/q/r")
        own = CookieJar()
        own.set(u, "mine", "1")
        await http.get(f"{u}/own", jar=own)
        await http.get(f"{u}/set2", jar=own)
        out("own jar", own.cookies_for_url(f"{u}/"))
        out("vu jar untouched", jar.cookies_for_url(f"{u}/"))
        nul = {"response_callback": None, "tags": {"cb": "null"}}
        await http.get(f"{u}/404", **nul)
        await http.get(f"{u}/ok", **nul)
        await http.get(refused, **nul)
        await http.get(f"{u}/404", tags={"cb": "default"})
        http.set_response_callback({404})
        await http.get(f"{u}/404", tags={"cb": "vu404"})
        http.set_response_callback(None)
        await http.get(f"{u}/404", tags={"cb": "vunull"})
