"""Namespaced test hosts: a real multi-node Ray cluster on one Linux machine.

A thin, typed wrapper around ``cluster/netns-cluster.sh`` for the multi-node tests. The
script builds a bridge and one network namespace per host in 10.231.77.0/24 (head .10,
workers .11.., target .100) and starts Ray in them with token auth; this module brings it
up, always tears it down, and runs drivers inside a namespace (a Ray driver needs a raylet
on its own node, and the host has none)::

    ok, why = netns_available()
    if not ok:
        pytest.skip(why)
    with NetnsCluster(workers=2) as cluster:
        proc = cluster.run_in("vzr-head", [sys.executable, "driver.py"], stdout=PIPE, text=True)
        out, _ = proc.communicate(timeout=120)

Only one cluster can exist per machine (fixed names and addresses). ``up`` on a machine that
already has one raises ``NetnsBusyError`` and leaves the other cluster alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from cli import cli_argv

SCRIPT = Path(__file__).resolve().parent.parent / "cluster" / "netns-cluster.sh"
SUBNET = "10.231.77"
HEAD_NS = "vzr-head"
TARGET_NS = "vzr-target"
HEAD_IP = f"{SUBNET}.10"
TARGET_IP = f"{SUBNET}.100"
GCS_PORT = 6379
DASHBOARD_PORT = 8265  # the head's dashboard and its Ray Jobs API (when started)
CLIENT_PORT = 10001  # the head's Ray Client server (ray start --head starts it)
DEFAULT_STATE_DIR = Path("/tmp/vzr-cluster")
ACTOR_TITLE = "ray::LoadActor"  # the process title Ray gives a load actor's worker
EXIT_BUSY = 3  # the script's exit code when a cluster (or leftovers) already exists


class NetnsError(RuntimeError):
    """The script failed; the message carries its output."""


class NetnsBusyError(NetnsError):
    """A vzr cluster (or leftovers of one) already exists on this machine; nothing was changed."""


class NodeInfo(NamedTuple):
    """One node as the GCS sees it."""

    ip: str
    alive: bool
    node_id: str
    is_head: bool


def _probe(argv: Sequence[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{' '.join(argv)!r} failed: {exc}"
    if proc.returncode != 0:
        return False, f"{' '.join(argv)!r} exited {proc.returncode}: {proc.stderr.strip()[:200]}"
    return True, ""


def netns_available() -> tuple[bool, str]:
    """Can this machine run namespaced test hosts? Returns (ok, reason when not)."""
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "network namespaces need root (run the netns tests as root)"
    hints = {"ip": "apt-get install -y iproute2", "ray": "pip install -e '.[dev]'"}
    for tool in ("bash", "ip", "ray"):
        if shutil.which(tool) is None:
            return False, f"{tool!r} is not on PATH: {hints.get(tool, 'install it')}"
    if not SCRIPT.is_file():
        return False, f"{SCRIPT} is missing"
    ok, why = _probe(["ip", "netns", "list"])
    if not ok:
        return False, f"ip netns is not usable: {why}"
    if shutil.which("unshare") is not None:
        # creating (and dropping) a throwaway network namespace proves CAP_SYS_ADMIN here
        ok, why = _probe(["unshare", "--net", "true"])
        if not ok:
            return False, f"cannot create network namespaces: {why}"
    return True, ""


def _namespace(node: str) -> str:
    """'head' / 'target' / 'w2' / a namespace name -> the namespace name."""
    name = node.removeprefix("vzr-")
    if name in ("head", "target"):
        return f"vzr-{name}"
    if name.startswith("w") and name[1:].isdigit() and int(name[1:]) > 0:
        return f"vzr-w{int(name[1:])}"
    raise ValueError(f"unknown node {node!r}: use head, target, wN or vzr-head, vzr-target, vzr-wN")


class NetnsCluster:
    """A head, ``workers`` worker nodes and a target host, each in its own network namespace.

    Use as a context manager (``down`` always runs on exit), or call ``up``/``down``.
    """

    def __init__(
        self,
        workers: int,
        cpus_per_node: int = 1,
        *,
        state_dir: Path = DEFAULT_STATE_DIR,
        node_timeout_s: int = 180,
        system_config: str | None = None,
        script: Path = SCRIPT,
        dashboard: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if cpus_per_node < 1:
            raise ValueError(f"cpus_per_node must be >= 1, got {cpus_per_node}")
        self.workers = workers
        self.cpus_per_node = cpus_per_node
        self.state_dir = state_dir
        self.node_timeout_s = node_timeout_s
        self.system_config = system_config
        self.script = script
        self.head_ip = HEAD_IP
        self.worker_ips = [f"{SUBNET}.{10 + i}" for i in range(1, workers + 1)]
        self.target_ip = TARGET_IP
        self.address = f"{HEAD_IP}:{GCS_PORT}"
        self.dashboard = dashboard
        self.dashboard_url = f"http://{HEAD_IP}:{DASHBOARD_PORT}"  # reachable from the host
        self.client_address = f"ray://{HEAD_IP}:{CLIENT_PORT}"  # Ray Client, from the host
        self.env: dict[str, str] = {}
        self._up = False

    # -- lifecycle -------------------------------------------------------------------------

    def _script_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VZR_CPUS_PER_NODE"] = str(self.cpus_per_node)
        env["VZR_STATE_DIR"] = str(self.state_dir)
        env["VZR_NODE_TIMEOUT"] = str(self.node_timeout_s)
        env["VZR_DASHBOARD"] = "1" if self.dashboard else "0"
        if self.system_config is not None:
            env["VZR_SYSTEM_CONFIG"] = self.system_config
        return env

    def _script(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.script), *args],
            env=self._script_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def up(self) -> None:
        """Build the hosts and start Ray on each, one by one; wait until every node is alive."""
        # Bounded: the script waits node_timeout_s at most per node; leave room for ray start.
        limit = 60 + (self.workers + 1) * (self.node_timeout_s + 60)
        try:
            proc = self._script("up", str(self.workers), timeout_s=limit)
        except BaseException as exc:  # a timeout, or Ctrl-C: leave nothing behind
            self.down()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise NetnsError(f"netns-cluster.sh up did not finish in {limit}s") from exc
            raise
        if proc.returncode == EXIT_BUSY:  # someone else's cluster: do not tear it down
            raise NetnsBusyError(proc.stderr.strip())
        if proc.returncode != 0:
            self.down()
            raise NetnsError(f"netns-cluster.sh up {self.workers} failed:\n{proc.stderr}")
        self._up = True
        token = (self.state_dir / "token").read_text().strip()
        self.env = {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": token,
            "RAY_ADDRESS": self.address,
            "RAY_TMPDIR": str(self.state_dir / "tmp"),
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def down(self) -> None:
        """Stop every process in the namespaces; delete namespaces, veths, bridge, state dir."""
        self._up = False
        self.env = {}
        proc = self._script("down", timeout_s=180)
        if proc.returncode != 0:
            raise NetnsError(f"netns-cluster.sh down failed:\n{proc.stderr}")

    def __enter__(self) -> NetnsCluster:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    # -- running things inside the hosts ---------------------------------------------------

    def _require_up(self) -> None:
        if not self._up:
            raise NetnsError("the cluster is not up")

    def run_in(self, ns: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside namespace ``ns`` ('vzr-head', 'head', 'w1', 'target', ...).

        The cluster env (RAY_AUTH_MODE, RAY_AUTH_TOKEN, RAY_ADDRESS, ...) is merged over
        ``env`` (default: this process's environment). Other kwargs go to ``subprocess.Popen``.
        """
        self._require_up()
        namespace = _namespace(ns)
        given: Mapping[str, str] | None = popen_kwargs.pop("env", None)
        base: Mapping[str, str] = os.environ if given is None else given
        env = {**base, **self.env}
        return subprocess.Popen(["ip", "netns", "exec", namespace, *argv], env=env, **popen_kwargs)

    def call_in(
        self,
        ns: str,
        argv: Sequence[str],
        timeout_s: float = 300,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``ns`` to the end (bounded), capturing text stdout and stderr."""
        proc = self.run_in(
            ns, argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise NetnsError(f"{argv!r} in {ns} ran past {timeout_s}s:\n{out}\n{err}") from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def processes(self, needle: str) -> list[str]:
        """Command lines, in every namespace of the cluster, that contain ``needle``."""
        self._require_up()
        found = []
        names = [HEAD_NS, TARGET_NS, *(f"vzr-w{i}" for i in range(1, self.workers + 1))]
        for ns in names:
            proc = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30, check=False
            )
            for pid in proc.stdout.split():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue  # gone meanwhile
                if needle in cmd:
                    found.append(f"{ns}: {cmd.strip()}")
        return found

    def wait_run_ended(self, timeout_s: float = 120) -> None:
        """Poll (bounded) until no load actor process is left on any node: the run's end,
        after which nothing more can reach the target."""
        deadline = time.monotonic() + timeout_s
        while left := self.processes(ACTOR_TITLE):
            if time.monotonic() >= deadline:
                raise NetnsError(f"load actors still alive after {timeout_s}s: {left}")
            time.sleep(0.2)

    # -- faults ------------------------------------------------------------------------------

    def _worker(self, i: int) -> str:
        if not 1 <= i <= self.workers:
            raise ValueError(f"worker index must be in 1..{self.workers}, got {i}")
        return str(i)

    def _fault(self, cmd: str, i: int) -> None:
        self._require_up()
        proc = self._script(cmd, self._worker(i), timeout_s=60)
        if proc.returncode != 0:
            raise NetnsError(f"netns-cluster.sh {cmd} {i} failed:\n{proc.stderr}")

    def kill_node(self, i: int) -> None:
        """SIGKILL every process of worker ``i`` (1-based): the node dies."""
        self._fault("kill-node", i)

    def cut_node(self, i: int) -> None:
        """Take worker ``i``'s link down: a network partition (processes keep running)."""
        self._fault("cut-node", i)

    def heal_node(self, i: int) -> None:
        """Bring worker ``i``'s link back up."""
        self._fault("heal-node", i)

    # -- what Ray sees -----------------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """Every node the GCS knows, alive or dead."""
        self._require_up()
        proc = self._script("nodes", timeout_s=60)
        if proc.returncode != 0:
            raise NetnsError(f"netns-cluster.sh nodes failed:\n{proc.stderr}")
        nodes = []
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) == 4:
                ip, state, node_id, kind = parts
                nodes.append(NodeInfo(ip, state == "ALIVE", node_id, kind == "head"))
        return nodes

    def wait_node(self, ip: str, alive: bool, timeout_s: float = 120) -> float:
        """Poll (bounded) until the node at ``ip`` is alive / dead; returns seconds waited.

        A dead node stays in the GCS's list as DEAD; a restarted one comes back with a new
        node id, so "alive" means some node with that IP is alive, "dead" that none is.
        """
        start = time.monotonic()
        deadline = start + timeout_s
        while True:
            at_ip = [n for n in self.nodes() if n.ip == ip]
            is_alive = any(n.alive for n in at_ip)
            if is_alive == alive and (alive or at_ip):
                return time.monotonic() - start
            if time.monotonic() >= deadline:
                want = "alive" if alive else "dead"
                raise NetnsError(f"node {ip} not {want} after {timeout_s}s: {at_ip}")
            time.sleep(0.5)


@contextlib.contextmanager
def counting_target(
    cluster: NetnsCluster, port: int, argv: Sequence[str] | None = None
) -> Iterator[str]:
    """A counting target in the cluster's target host for as long as the block runs.

    ``argv`` (default: the built-in emulator, ``veza-ray target``) must serve
    ``GET /__stats``; this waits (bounded) until it answers, yields the base URL, and stops
    the server on exit. One fixture for every module that loads the namespaced cluster."""
    url = f"http://{cluster.target_ip}:{port}"
    if argv is None:
        argv = cli_argv(
            "target", "--host", cluster.target_ip, "--port", str(port), "--allow-public"
        )
    server = cluster.run_in("target", argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # bounded: until the target answers
            try:
                with urllib.request.urlopen(url + "/__stats", timeout=5) as resp:
                    json.loads(resp.read())
                break
            except OSError:
                if server.poll() is not None:
                    raise NetnsError(f"the target exited {server.returncode}") from None
                time.sleep(0.1)
        else:
            raise NetnsError(f"the target at {url} never answered /__stats")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
