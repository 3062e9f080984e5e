"""The live web dashboard of a run on the 3-node namespaced cluster (head and two workers,
each its own network namespace and address; the Veza emulator on the target host).

``run`` in the head's namespace, bound to the head's address (off loopback: the token
printed once), watched by Debian's Chromium on the host across the bridge, as a team
watches a drill from their desks: the cluster view lists the three nodes and one actor
on each, the page's final numbers are the summary's and the target's, and stopping from
the page ends the run with 105. ``VEZA_RAY_DASHBOARD_SHOTS=docs`` saves the overview and
cluster views there (docs/dashboard-overview.png, docs/dashboard-cluster.png).

``submit`` from the host to the same cluster: the dashboard runs in the job on the head,
bound to the head's loopback (the default), and its address comes back in submit's own
output. It is reached from inside the head's namespace, the way ``kubectl port-forward``
reaches a pod (the runtime dials localhost inside the pod's network namespace), and not
from the host; a stop from there ends the job's run with 105 and the summary handed back.

Needs root, ``ip netns``, Chromium and Playwright; skipped with the reason otherwise.
No timing assertions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli import CLI
from dashboard_browser import chromium, ms_text, scenario_p95, shot, wait, watch
from netns import NetnsCluster, counting_target
from requires import requires

from veza_ray.reports import fmt

pytestmark = [requires("netns", "chromium", "playwright"), pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PORT = 8080
DASH_PORT = 5665  # k6's default, on the head's address
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

SCRIPT = """
from veza_ray import check, env, sleep

BASE = env("BASE_URL")
options = {
    "scenarios": {
        "browse": {"executor": "constant-vus", "vus": 3, "duration": "120s",
                   "exec": "browse", "gracefulStop": "2s"},
        "health": {"executor": "constant-arrival-rate", "rate": 6, "timeUnit": "1s",
                   "duration": "120s", "preAllocatedVUs": 3, "exec": "health"},
    },
    "thresholds": {
        "http_req_duration{scenario:browse}": ["p(95)<2000"],
        "checks": ["rate>0.9"],
    },
}

async def browse(vu):
    r = await vu.http.get(BASE + "/api/v1/tracks?page=1&limit=5", tags={"name": "list"})
    check(r, {"list 200": lambda r: r.status == 200})
    await sleep(0.2)

async def health(vu):
    r = await vu.http.get(BASE + "/api/v1/health")
    check(r, {"health 200": lambda r: r.status == 200})
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    with NetnsCluster(workers=2, dashboard=True) as c, counting_target(c, PORT):
        yield c


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@dataclass
class Watched:
    """A veza-ray process whose ``stream`` is read as it comes, for the dashboard's line
    (``run`` prints it on stderr; ``submit`` shows the job's log on stdout)."""

    proc: subprocess.Popen[str]
    stream: str = "stderr"
    lines: list[str] = field(default_factory=list)
    seen: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    token: str = ""
    reader: threading.Thread | None = None

    def read(self) -> None:
        lines = getattr(self.proc, self.stream)
        assert lines is not None
        for line in lines:
            self.lines.append(line)
            m = re.search(r"web dashboard on (http://[^ /]+/)", line)
            if m and not self.url:
                self.url = m.group(1)
                t = re.search(r"the token (\S+) ;", line)
                self.token = t.group(1) if t else ""
                self.seen.set()
        self.seen.set()  # ended: stop waiting either way

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def started(self) -> Watched:
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        self.seen.wait()
        assert self.url, self.text[-3000:]
        return self

    def finish(self) -> tuple[int, str]:
        """Wait for the end; the exit code and the other stream, read to its end."""
        other = self.proc.stdout if self.stream == "stderr" else self.proc.stderr
        assert other is not None and self.reader is not None
        out = other.read()
        code = self.proc.wait()
        self.reader.join()
        return code, out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def _target(c: NetnsCluster) -> str:
    return f"http://{c.target_ip}:{PORT}"


def _served(c: NetnsCluster) -> int:
    """API requests the target served (its health endpoint is kept out of this count)."""
    with NO_PROXY.open(_target(c) + "/__stats", timeout=5) as resp:
        return int(json.loads(resp.read())["total"])


def _reset(c: NetnsCluster) -> None:
    req = urllib.request.Request(_target(c) + "/__reset", method="POST")
    NO_PROXY.open(req, timeout=5).close()


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "dash3.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return path


def _reqs(summary: dict[str, Any], scenario: str) -> int:
    """A scenario's requests, merged over the cluster (its intervals add up to the total)."""
    return int(sum(p["scenarios"][scenario]["reqs"] for p in summary["veza_ray"]["intervals"]))


# The cluster view's nodes (address, actor count) and its actors' addresses.
ROWS = """() => ({
  nodes: [...document.querySelectorAll('#cluster tr[data-node]')].map(
    r => [r.dataset.node, r.querySelector('td.num').textContent.trim()]),
  actors: [...document.querySelectorAll('#cluster tr[data-actor]')].map(
    r => r.querySelectorAll('td')[1].textContent.trim()),
})"""


def _files_with(root: Path, needle: bytes) -> list[str]:
    """Every regular file under ``root`` that contains ``needle``."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue  # removed meanwhile, or not readable as a file
    return found


def _cell(scenario: str, key: str) -> str:
    return f"tr[data-scenario='{scenario}'] td[data-k='{key}']"


def test_three_node_run_watched_from_the_host(
    cluster: NetnsCluster, browser: Any, tmp_path: Path
) -> None:
    _reset(cluster)
    out = tmp_path / "summary.json"
    nodes = {cluster.head_ip, *cluster.worker_ips}
    proc = cluster.run_in(
        "head",
        [
            *CLI, "run", str(_script(tmp_path)), "-e", f"BASE_URL={_target(cluster)}",
            "--allow-host", cluster.target_ip, "--actors", "3", "--spread", "strict",
            "--quiet", "--summary-export", str(out), "--html", str(tmp_path / "report.html"),
            "-o", f"web-dashboard=host={cluster.head_ip}&port={DASH_PORT}&period=1s",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    run = Watched(proc)
    try:
        run.started()
        assert run.url == f"http://{cluster.head_ip}:{DASH_PORT}/" and run.token, run.text
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        messages, outside = watch(page, run.url.rstrip("/"))
        page.goto(f"{run.url}#token={run.token}")
        # Enough history for the charts, and every actor reporting on every node.
        wait(page, "document.body.dataset.points >= 8")
        assert page.evaluate("document.body.dataset.running") == "true"
        assert page.evaluate("document.body.dataset.control") == "token"
        assert page.locator("#vr-stop").is_visible()  # the token came in the URL's fragment
        assert page.locator("table.thr tr", has_text="p(95)<2000").get_attribute("class") == "ok"
        shot(page, "dashboard-overview.png")
        page.locator("#vr-tabs button[data-tab=cluster]").click()
        assert page.locator("#cluster").is_visible()
        # Read in one go: the page replaces its body on every update.
        wait(page, "document.querySelectorAll('#cluster tr[data-node]').length === 3")
        rows = page.evaluate(ROWS)
        assert sorted(rows["nodes"]) == sorted([ip, "1"] for ip in nodes)  # one actor each
        assert sorted(rows["actors"]) == sorted(nodes)
        page.set_viewport_size({"width": 1280, "height": 700})  # the view, not blank page
        shot(page, "dashboard-cluster.png")
        page.locator("#vr-tabs button[data-tab=overview]").click()
        page.once("dialog", lambda d: d.accept())
        page.locator("#vr-stop").click()
        code, _ = run.finish()
    finally:
        run.kill()
    assert code == 105, run.text[-3000:]
    summary = json.loads(out.read_text())
    assert summary["veza_ray"]["outputs"]["web-dashboard"]["stopped_from_page"] is True
    assert sorted(n["address"] for n in summary["veza_ray"]["nodes"]) == sorted(nodes)
    total = summary["metrics"]["http_reqs"]["values"]["count"]
    assert _reqs(summary, "browse") == _served(cluster) > 0  # every one the target served
    wait(page, "document.body.dataset.running === 'false'")
    assert "exit code 105" in page.locator("#verdict").inner_text()
    assert page.locator(_cell("all", "requests")).inner_text() == fmt.number(total)
    shown = 0
    for name in ("browse", "health"):
        reqs = _reqs(summary, name)
        assert page.locator(_cell(name, "requests")).inner_text() == fmt.number(reqs)
        shown += reqs
        p95, p95_text = scenario_p95(summary, name), page.locator(_cell(name, "p95")).inner_text()
        assert p95_text == fmt.ms(p95)
        assert ms_text(p95_text) == pytest.approx(p95, rel=0.01, abs=0.01)
    assert shown == total
    assert page.locator("#cluster tr[data-node]").count() == 3  # the final state too
    assert messages == [], messages
    assert outside == [], outside
    # The token: printed once, on the driver's stderr; in no report, and in no file any
    # node's Ray processes wrote (logs of the driver, the actors, the raylets, the GCS).
    assert len([ln for ln in run.lines if run.token in ln]) == 1
    for name in ("summary.json", "report.html"):
        assert run.token not in (tmp_path / name).read_text(), name
    assert _files_with(cluster.state_dir, run.token.encode()) == []


def _host_env(c: NetnsCluster) -> dict[str, str]:
    """The submitting machine's env: the cluster's token, no GCS address (not reachable)."""
    env = dict(os.environ)
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=c.env["RAY_AUTH_TOKEN"])
    env.pop("RAY_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# What `kubectl port-forward` does on the node: a connection to localhost made inside the
# pod's network namespace (here, the head's). argv[1]: the URL, argv[2]: GET or PATCH.
IN_HEAD = """
import json, sys, urllib.request
body = None
if sys.argv[2] == "PATCH":
    body = json.dumps({"data": {"attributes": {"stopped": True}}}).encode()
req = urllib.request.Request(sys.argv[1] + "v1/status", data=body, method=sys.argv[2])
req.add_header("Content-Type", "application/json")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(req, timeout=30) as resp:
    print(json.dumps(json.loads(resp.read())["data"]["attributes"]))
"""


def _in_head(c: NetnsCluster, url: str, method: str) -> dict[str, Any]:
    done = c.call_in("head", [sys.executable, "-c", IN_HEAD, url, method], timeout_s=60)
    assert done.returncode == 0, done.stderr
    attrs: dict[str, Any] = json.loads(done.stdout)
    return attrs


def test_submit_prints_the_heads_dashboard_reached_inside_its_namespace(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    _reset(cluster)
    out = tmp_path / "out" / "summary.json"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [
            *CLI, "submit", str(_script(tmp_path)), "--address", cluster.dashboard_url,
            "-e", f"BASE_URL={_target(cluster)}", "--allow-host", cluster.target_ip,
            "--actors", "3", "--spread", "strict", "--summary-export", str(out),
            "-o", "web-dashboard=port=0&period=1s",
        ],
        cwd=tmp_path, env=_host_env(cluster),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    job = Watched(proc, "stdout")
    try:
        job.started()
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", job.url)
        assert m and not job.token, job.text[-3000:]  # loopback: no token, none printed
        port = int(m.group(1))
        status = _in_head(cluster, job.url, "GET")
        assert status["running"] is True and status["stopped"] is False
        with pytest.raises(urllib.error.URLError):  # the head's address does not serve it
            NO_PROXY.open(f"http://{cluster.head_ip}:{port}/v1/status", timeout=10)
        assert _in_head(cluster, job.url, "PATCH")["stopped"] is True
        code, err = job.finish()
    finally:
        job.kill()
    assert code == 105, job.text[-3000:] + err[-3000:]
    summary = json.loads(out.read_text())  # handed back by the job
    assert summary["veza_ray"]["outputs"]["web-dashboard"]["stopped_from_page"] is True
    assert len(summary["veza_ray"]["nodes"]) == 3
    assert _reqs(summary, "browse") == _served(cluster) > 0
