"""Canary secrets through the real CLI on a real local Ray cluster: none may come out.

Each exit path that can be forced (0, 99, 103, 104, 105, 107 in the driver and in an
actor, 108, 111) runs with canary secrets in every form the tool promises to hide: env
vars secret by name, ``--secret NAME``, ``env(..., secret=True)``, credential headers
(dict and list-of-pairs forms, Bearer and AWS4 schemes, X-Api-Key, Cookie), URL userinfo
and secret query parameters. The flows print and raise them as is, percent-encoded,
JSON-escaped and inside base64 (Basic credentials). Then every output is searched for
every form: stdout, stderr, the summary JSON, HTML, JUnit, Markdown, NDJSON,
handle_summary's files, every file of the run's Ray temp dir, and the command line of
every process seen while it ran. Secrets are passed through the environment, never
``-e`` (a command line is readable by every user of the machine), while the ordinary
``-e`` values (LIMIT_MS, BASE_URL) must show unchanged.

The side-channel run adds what a run must keep whole while hiding it: thresholds whose
selectors name secret tag values (matched on the real values, shown as ***), a value
declared secret in a flow after its first use, a multi-line PEM key printed by a flow
(Ray's log files searched line by line), cookies whose Path/Domain appear in later
``name`` tags, a Digest credential, a ``-e`` value named with ``--secret``, and the
Prometheus remote-write body; ``inspect`` is checked in text and ``--json``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from cli import CLI
from servers import KnownServer, write_script

pytestmark = pytest.mark.ray

RUN = secrets.token_hex(4)
SEED = "seed" + RUN
ENV_SECRETS = {
    "USER_TOKEN": f"cnry-tok-{RUN}",
    "API_KEY": f"ak/CNRY+{RUN}=",
    "DB_PASSWORD": f"pw:cnry {RUN}!",
    "MY_SESSION": f"cnry\"sess'{RUN}",
    "NAMED": f"cnry-named-{RUN}",  # a secret only because of --secret NAMED
    "DECL": f"cnry-decl-{RUN}",  # a secret only because the script says env(..., secret=True)
}


def _derived(tag: str) -> str:
    """Secrets the script computes at run time: known only from where they are sent."""
    return "cnry" + tag + hashlib.sha256((SEED + tag).encode()).hexdigest()[:12]


RUNTIME_SECRETS = {t: _derived(t) for t in ("hdr", "aws", "ck", "sig", "ui")}
ALL = [*ENV_SECRETS.values(), *RUNTIME_SECRETS.values()]

PRELUDE = """
import base64, hashlib, json, os, urllib.parse
from veza_ray import env, check

SEED = env("SEED")
def derived(tag):
    return "cnry" + tag + hashlib.sha256((SEED + tag).encode()).hexdigest()[:12]
HDR, AWS, CK, SIG, UI = (derived(t) for t in ("hdr", "aws", "ck", "sig", "ui"))
DECL = env("DECL", secret=True)
KNOWN = [env(n) for n in ("USER_TOKEN", "API_KEY", "DB_PASSWORD", "MY_SESSION", "NAMED")]
KNOWN.append(DECL)
LIMIT = env("LIMIT_MS")

def forms(v):
    return [v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v),
            json.dumps({"v": v}), base64.b64encode(("user:" + v).encode()).decode()]

async def leak(vu):
    base = env("BASE_URL")
    host = base.split("//", 1)[1]
    await vu.http.get(base + "/fast", headers={
        "X-Api-Key": HDR, "Authorization": "Bearer " + env("USER_TOKEN")})
    check(1, {"sent " + HDR: lambda x: True})  # a check name holding a learned secret
    await vu.http.get(
        f"http://bob:{UI}@{host}/fast?sig={SIG}&limit=5",
        headers=[("Authorization", f"AWS4-HMAC-SHA256 Credential={AWS}/s3, Signature=ab12"),
                 ("Cookie", f"sid={CK}")])
    await vu.http.get(base + "/fast?api_key=" + urllib.parse.quote(env("API_KEY"), safe=""))
    every = KNOWN + [HDR, AWS, CK, SIG, UI]
    print("plain values:", base + "/ok", "limit", LIMIT, flush=True)
    for v in every:
        print("leak?", *forms(v), flush=True)
    raise RuntimeError(f"leak? {base}/ok " + " ".join(f for v in every for f in forms(v)))
"""

RUN_99 = (
    PRELUDE
    + """
options = {
    "scenarios": {"s": {"executor": "shared-iterations", "vus": 2, "iterations": 4,
                        "tags": {"token": env("USER_TOKEN")}}},
    "thresholds": {"http_req_duration": [f"p(95)<{LIMIT}"], "checks": ["rate>0.99"]},
}

async def default(vu):
    check(1, {"never": lambda x: False})
    await leak(vu)

def handle_summary(data):
    text = " ".join(f for v in KNOWN for f in forms(v))
    return {"stdout": "handle_summary " + text, env("HS_PATH"): text + json.dumps(data)}
"""
)

RUN_0 = (
    PRELUDE
    + """
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 2}}}
async def default(vu):
    await leak(vu)
"""
)

RUN_105 = (
    PRELUDE
    + """
from veza_ray import sleep
options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "60s"}}}
async def default(vu):
    try:
        await leak(vu)
    finally:
        await sleep(0.2)
"""
)

RUN_103 = (
    PRELUDE
    + """
options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "20s"}}}
async def default(vu):
    if vu.iteration >= 2:
        os._exit(3)  # the actor dies: its load is lost
    try:
        await leak(vu)
    except RuntimeError:
        pass
"""
)

ACTOR_107 = """
import os, urllib.parse, ray
from veza_ray import env
DECL = env("DECL", secret=True)
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 1}}}
if ray.is_initialized():  # only in the actor: the driver loaded this file before Ray
    raise RuntimeError("cannot start with " + " ".join(
        [env("API_KEY"), urllib.parse.quote(env("API_KEY"), safe=""), DECL, env("NAMED")]))
async def default(vu):
    pass
"""

DRIVER_107 = """
import urllib.parse
from veza_ray import env
DECL = env("DECL", secret=True)
raise KeyError("USER_TOKEN=" + env("USER_TOKEN") + " key " + urllib.parse.quote_plus(
    env("API_KEY")) + " " + DECL + " " + env("NAMED"))
"""

OPTIONS_104 = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                               "env": {"USER_TOKEN": env("USER_TOKEN"),
                                       "X": env("NAMED"), "Y": env("DECL", secret=True)},
                               "bogus_key": env("API_KEY")}}}
async def default(vu):
    pass
"""


def forms_of(value: str) -> set[bytes]:
    """Every form a canary could take on the way out."""
    raw = value.encode()
    out = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        html.escape(value),
        repr(value)[1:-1],
    }
    for k in range(3):  # base64 of anything holding the value, at each alignment
        enc = base64.b64encode(b"\x00" * k + raw + b"\x00\x00").decode()
        out.add(enc[-(-8 * k // 6) : (8 * (k + len(raw))) // 6])
    return {f.encode() for f in out if len(f) >= 8}


CANARY_FORMS = {f: v for v in ALL for f in forms_of(v)}


class Run:
    """One CLI run: its env, outputs, a private Ray temp dir, and the command lines seen."""

    def __init__(self, tmp_path: Path, server: KnownServer) -> None:
        self.dir = tmp_path
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="vzg"))  # short: Ray's socket paths
        self.env = {
            **os.environ,
            **ENV_SECRETS,
            "RAY_TMPDIR": str(self.ray_tmp),
            "HS_PATH": str(tmp_path / "hs.txt"),
        }
        self.base = server.url
        self.server = server
        self.cmdlines: set[bytes] = set()
        self._stop = threading.Event()

    def args(self, script: str, *extra: str) -> list[str]:
        out = self.dir / "out"
        return [
            *CLI,
            "run",
            write_script(self.dir, script),
            "--secret",
            "NAMED",
            "-e",
            f"BASE_URL={self.base}",
            "-e",
            "LIMIT_MS=1500",
            "-e",
            f"SEED={SEED}",
            "--summary-export",
            str(out / "summary.json"),
            "--html",
            str(out / "report.html"),
            "--junit",
            str(out / "junit.xml"),
            "--markdown",
            str(out / "report.md"),
            "--out",
            f"json={out / 'series.ndjson'}",
            "--log-interval",
            "1",
            *extra,
        ]

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    with contextlib.suppress(OSError):
                        self.cmdlines.add(Path(f"/proc/{pid}/cmdline").read_bytes())
            self._stop.wait(0.2)

    def run(self, script: str, *extra: str, sigint_after: str = "") -> tuple[int, str, str]:
        (self.dir / "out").mkdir(exist_ok=True)
        watcher = threading.Thread(target=self._watch, daemon=True)
        watcher.start()
        err_path = self.dir / "stderr.txt"
        try:
            with open(err_path, "w") as err:
                proc = subprocess.Popen(
                    self.args(script, *extra),
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=self.env,
                    text=True,
                )
                if sigint_after:
                    # Ctrl-C once the run is under way and the VU has sent its secrets (the
                    # server saw a whole leak(): three requests); bounded polls, no fixed wait.
                    seen = self.server.counts["fast"]
                    for _ in range(1200):
                        if proc.poll() is not None or (
                            sigint_after in err_path.read_text()
                            and self.server.counts["fast"] >= seen + 3
                        ):
                            break
                        time.sleep(0.1)
                    proc.send_signal(signal.SIGINT)
                out, _ = proc.communicate(timeout=300)
        finally:
            self._stop.set()
            watcher.join()
        return proc.returncode, out, err_path.read_text()

    def leaks(self, stdout: str, stderr: str, forms: dict[bytes, str] = CANARY_FORMS) -> list[str]:
        """Where any canary form shows, as 'place: form'."""
        places: list[tuple[str, bytes]] = [("stdout", stdout.encode()), ("stderr", stderr.encode())]
        for root in (self.dir, self.ray_tmp):
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink() and path.name != "scenario.py":
                    with contextlib.suppress(OSError):
                        places.append((str(path), path.read_bytes()))
        places += [("cmdline " + c[:80].decode(errors="replace"), c) for c in self.cmdlines]
        found = []
        for where, data in places:
            for form, value in forms.items():
                if form in data:
                    found.append(f"{where}: {form.decode(errors='replace')} (of {value})")
        return found

    def close(self) -> None:
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[KnownServer]:
    with KnownServer() as srv:
        yield srv


@pytest.fixture
def run(tmp_path: Path, server: KnownServer) -> Iterator[Run]:
    r = Run(tmp_path, server)
    yield r
    r.close()


def test_canaries_exit_99_every_output(run: Run, server: KnownServer) -> None:
    code, out, err = run.run(RUN_99, "--actors", "1", "--no-preflight")
    assert code == 99, err
    leaks = run.leaks(out, err)
    assert leaks == [], "\n".join(leaks)
    summary = json.loads((run.dir / "out" / "summary.json").read_text())
    # Ordinary -e values are shown as given.
    assert "p(95)<1500" in summary["metrics"]["http_req_duration"]["thresholds"]
    assert [v["metric_key"] for v in summary["veza_ray"]["verdicts"]] == [
        "http_req_duration",
        "checks",
    ]
    errors = json.dumps(summary["veza_ray"]["errors"])
    assert f"leak? {server.url}/ok ***" in errors
    assert f"plain values: {server.url}/ok limit 1500" in out + err
    for name in ("report.html", "junit.xml", "report.md", "series.ndjson"):
        assert (run.dir / "out" / name).stat().st_size > 0
    hs = (run.dir / "hs.txt").read_text()
    assert "***" in hs and "p(95)<1500" in hs
    assert "handle_summary ***" in out
    assert "Authorization" not in err or "***" in err
    assert server.counts["fast"] == 12


def test_canaries_exit_0(run: Run) -> None:
    code, out, err = run.run(RUN_0, "--actors", "1", "--no-preflight")
    assert code == 0, err
    assert "leak? ***" in out + err
    assert run.leaks(out, err) == []


def test_canaries_exit_105_on_sigint(run: Run) -> None:
    code, out, err = run.run(RUN_105, "--actors", "1", "--no-preflight", sigint_after="actor(s) on")
    assert code == 105, err
    assert (run.dir / "out" / "summary.json").is_file()
    assert run.leaks(out, err) == []


def test_canaries_exit_103_lost_actor(run: Run) -> None:
    code, out, err = run.run(RUN_103, "--actors", "1", "--no-preflight")
    assert code == 103, err
    assert run.leaks(out, err) == []


def test_canaries_exit_107_in_the_actor(run: Run) -> None:
    code, out, err = run.run(ACTOR_107, "--actors", "1", "--no-preflight")
    assert code == 107, err
    assert "cannot start with ***" in err
    assert run.leaks(out, err) == []


@pytest.mark.parametrize(
    ("script", "extra", "code", "needle"),
    [
        pytest.param(DRIVER_107, [], 107, "KeyError", id="107-import"),
        pytest.param(OPTIONS_104, [], 104, "bogus_key", id="104-options"),
        pytest.param(
            RUN_0,
            ["-e", "BASE_URL=http://u:{ui}@127.0.0.1:1/?api_key={hdr}"],
            108,
            "pre-flight",
            id="108-preflight",
        ),
        pytest.param(
            RUN_0,
            ["--no-preflight", "--address", "http://u:{ui}@127.0.0.1:1"],
            111,
            "connect",
            id="111-address",
        ),
    ],
)
def test_canaries_refusals(run: Run, script: str, extra: list[str], code: int, needle: str) -> None:
    args = [a.format(ui=RUNTIME_SECRETS["ui"], hdr=RUNTIME_SECRETS["hdr"]) for a in extra]
    # The URL canaries here are on the command line by design (the test's own argv):
    # they must not show in any output, but the command-line scan skips them.
    got, out, err = run.run(script, *args)
    assert got == code, err
    assert needle in err
    leaks = [x for x in run.leaks(out, err) if not x.startswith("cmdline")]
    leaks += [
        x
        for x in run.leaks(out, err)
        if x.startswith("cmdline")
        and not any(v in x for v in (RUNTIME_SECRETS["ui"], RUNTIME_SECRETS["hdr"]))
    ]
    assert leaks == []
    assert "Traceback" not in err
    if code != 111:  # Ray may log its own lines before giving up
        assert err.count("\n") == 1, err  # one line


# ---- side channels: identity vs display, late secrets, multi-line, cookies, push --------

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    f"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{RUN}BKcwggSjAgEAAoIBAQC7\n"
    f"VJTUt9Us8cKjMzEfYyjiWA4R4{RUN}M2bS1GB4t7NXp98C3SC6dVMvDu\n"
    "-----END PRIVATE KEY-----\n"
)
SIDE_ENV = {
    "TLS_PRIVATE_KEY": PEM,  # secret by name, multi-line
    "LATE_VALUE": f"cnry-late-{RUN}",  # declared secret in the flow, after its first use
}
EVAL = f"cnry-eval-{RUN}"  # given with -e on the command line and named with --secret
SIDE = {
    **{k: v for k, v in ENV_SECRETS.items() if k != "DECL"},
    **{k: v for k, v in RUNTIME_SECRETS.items() if k in ("ck", "ui", "hdr", "aws")},
    "late": SIDE_ENV["LATE_VALUE"],
    "eval": EVAL,
}
SIDE_FORMS = {f: v for v in SIDE.values() for f in forms_of(v)}
# A multi-line value leaks line by line: each line of the key is a canary of its own.
SIDE_FORMS.update({f: "PEM" for line in PEM.splitlines() if RUN in line for f in forms_of(line)})

SIDE_SCRIPT = (
    PRELUDE
    + """
PEM = env("TLS_PRIVATE_KEY")
NAMED, EVAL, LATE = env("NAMED"), env("EVAL"), env("LATE_VALUE")
options = {
    "scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 3}},
    "thresholds": {
        "http_req_duration{name:" + NAMED + "}": ["p(95)<60000"],
        "http_reqs{name:" + EVAL + "}": ["count>2"],
        "http_reqs{name:" + env("BASE_URL") + "/hit/app}": ["count>5"],
    },
}

async def default(vu):
    base = env("BASE_URL")
    host = base.split("//", 1)[1]
    late = env("LATE_VALUE")
    await vu.http.get(base + "/fast?q=" + late)  # a URL (name tag) holding it
    check(1, {"late " + late: lambda x: True})  # a check name holding it
    env("LATE_VALUE", secret=True)  # only now declared a secret, only in the actor
    await vu.http.get(base + "/fast", tags={"name": NAMED})
    await vu.http.get(base + "/fast", tags={"name": EVAL})
    await vu.http.get(base + "/setcookie?v=" + CK)  # Set-Cookie: sess=CK; Path=/hit; ...
    await vu.http.get(base + "/hit/app")  # sends the cookie; its name tag must stay whole
    await vu.http.get(f"http://bob:{UI}@{host}/fast", headers={"X-Api-Key": HDR})
    # A runtime credential in a Digest header, also used as a tag value; the header's
    # uri and realm are not credentials and must not be learned (the name tag keeps /hit).
    digest = f'Digest username="bob", realm="hit", uri="/hit/app", response="{AWS}"'
    await vu.http.get(base + "/hit/app", headers={"Authorization": digest}, tags={"team": AWS})
    print("pem:", PEM, flush=True)
    print(PEM)
"""
)


def test_canaries_side_channels_every_output(run: Run, server: KnownServer) -> None:
    """Secrets in every form through a run that must keep its data whole: thresholds on
    secret tag values match, a secret declared late is hidden everywhere, a PEM key
    printed by a flow shows nowhere (Ray's log files included), cookie attributes
    are not secrets, and the Prometheus body is as clean as the files."""
    from prom import Endpoint

    from veza_ray.outputs.prometheus import decode

    run.env.update(SIDE_ENV)
    with Endpoint() as push:
        code, out, err = run.run(
            SIDE_SCRIPT,
            *("--actors", "1", "--no-preflight", "--secret", "EVAL", "-e", f"EVAL={EVAL}"),
            *("-o", f"prometheus={push.url}"),
        )
    assert code == 0, err
    # Every output, the command line excepted for the value given there by design.
    leaks = [x for x in run.leaks(out, err, SIDE_FORMS) if not x.startswith("cmdline")]
    leaks += [
        x for x in run.leaks(out, err, SIDE_FORMS) if x.startswith("cmdline") and EVAL not in x
    ]
    assert leaks == [], "\n".join(leaks)
    assert "pem: ***" in out + err
    summary = json.loads((run.dir / "out" / "summary.json").read_text())
    verdicts = {v["metric_key"]: v for v in summary["veza_ray"]["verdicts"]}
    base = server.url
    # Matched on the real values (observed), shown redacted (the keys).
    assert set(verdicts) == {
        "http_req_duration{name:***}",
        "http_reqs{name:***}",
        f"http_reqs{{name:{base}/hit/app}}",
    }
    assert all(v["observed"] is not None and v["ok"] for v in verdicts.values()), verdicts
    assert verdicts["http_reqs{name:***}"]["observed"] == 3
    # Declared late, in the actor only: hidden in the check name and the URL all the same.
    checks = [c["name"] for c in summary["root_group"]["checks"]]
    assert "late ***" in checks, checks
    assert verdicts[f"http_reqs{{name:{base}/hit/app}}"]["observed"] == 6
    # The push: clean, and the cookie's Path/Domain did not eat the name tags.
    series = [dict(labels) for body in push.bodies for labels, _ in decode(body)]
    bodies = b"".join(push.bodies)
    assert series and not [f for f in SIDE_FORMS if f in bodies]
    names = {s.get("name") for s in series}
    assert f"{base}/hit/app" in names and f"{base}/setcookie?v=***" in names
    assert "***" in {s.get("name") for s in series if s["__name__"] == "k6_http_reqs_total"}
    assert any(s.get("threshold") == "http_reqs{name:***}" for s in series)
    assert any(s.get("check") == "late ***" for s in series)
    assert {s.get("team") for s in series} >= {"***"}
    assert server.counts["setcookie"] == 3 and server.counts["hit:app"] == 6


INSPECT_SCRIPT = """
from veza_ray import env
DECL = env("DECL", secret=True)
options = {
    "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                        "tags": {"team": env("NAMED")},
                        "env": {"TARGET": "http://bob:" + env("DB_PASSWORD") + "@127.0.0.1/"}}},
    "thresholds": {
        "http_req_duration{name:" + env("USER_TOKEN") + "}": ["p(95)<500"],
        "http_reqs{url:http://127.0.0.1/?api_key=" + env("API_KEY") + "}": ["count>0"],
        "checks{check:" + DECL + "}": ["rate>0.9"],
        "iterations{key:" + env("TLS_PRIVATE_KEY") + "}": ["count>0"],
    },
}
async def default(vu):
    pass
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_canaries_inspect(tmp_path: Path, as_json: bool) -> None:
    """inspect's text and JSON go through the same redaction as every other output."""
    from servers import veza

    script = write_script(tmp_path, INSPECT_SCRIPT)
    args = ["inspect", script, "--actors", "2", "--secret", "NAMED", *(["--json"] * as_json)]
    res = veza(*args, env={**ENV_SECRETS, **SIDE_ENV})
    assert res.returncode == 0, res.stderr
    forms = {f: v for v in ENV_SECRETS.values() for f in forms_of(v)}
    forms.update({f: "PEM" for line in PEM.splitlines() if RUN in line for f in forms_of(line)})
    text = (res.stdout + res.stderr).encode()
    assert [v for f, v in forms.items() if f in text] == []
    assert "p(95)<500" in res.stdout and "***" in res.stdout
    if as_json:
        report = json.loads(res.stdout)
        assert set(report["thresholds"]) == {
            "http_req_duration{name:***}",
            "http_reqs{url:http://127.0.0.1/?api_key=***}",  # the brace kept
            "checks{check:***}",
            "iterations{key:***}",
        }
