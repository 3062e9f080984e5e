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

    def leaks(self, stdout: str, stderr: str) -> list[str]:
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
            for form, value in CANARY_FORMS.items():
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
