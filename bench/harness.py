"""The harness's building blocks: pure statistics and table formatting, plus process tools.

The pure half (``median``, ``ratio``, ``fmt_*``, ``md_table``, ``goal_*``, the parsers of
k6/Locust/wrk output) has no I/O and is unit-tested in tests/unit/test_bench_harness.py.
The rest starts pinned processes, samples their CPU and memory from /proc, and always
kills what it started.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = BENCH / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_KB = (os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4

GENERATOR_CORE = "0"
TARGET_CORE = "1"


# ---------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return None
    mid = len(vals) // 2
    if len(vals) % 2:
        return float(vals[mid])
    return (vals[mid - 1] + vals[mid]) / 2.0


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired_ratio(a: Sequence[float | None], b: Sequence[float | None]) -> float | None:
    """Median of a[i] / b[i] over the repetitions where both ran: tools alternate within a
    repetition, so each ratio compares runs minutes apart, not a quiet one with a busy one."""
    return median([ratio(x, y) for x, y in zip(a, b, strict=False)])


def fmt_num(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators; an em dash for a missing value."""
    if value is None:
        return "—"
    if digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; cells are str()-ed, pipes escaped."""

    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    out.append("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, the header {len(headers)}: {row!r}")
        out.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(out)


def goal_verdict(met: bool | None) -> str:
    if met is None:
        return "not measured"
    return "**met**" if met else "**not met**"


def within_fidelity(ours: float, ref: float, rel: float = 0.02, abs_ms: float = 1.0) -> bool:
    """The latency-fidelity goal: |ours - ref| <= rel * ref + abs_ms."""
    return abs(ours - ref) <= rel * abs(ref) + abs_ms


def fidelity_gap(ours: float, ref: float, rel: float = 0.02, abs_ms: float = 1.0) -> float:
    """How far past the allowed band ``ours`` is (ms); 0 or negative means inside."""
    return abs(ours - ref) - (rel * abs(ref) + abs_ms)


def per_vu_kb(peak_kb: float | None, baseline_kb: float | None, vus: int) -> float | None:
    if peak_kb is None or baseline_kb is None or vus <= 0:
        return None
    return max(0.0, peak_kb - baseline_kb) / vus


def rel_error(estimate: float, exact: float) -> float:
    """|estimate - exact| / |exact| (0 when both are 0)."""
    if exact == 0:
        return 0.0 if estimate == 0 else math.inf
    return abs(estimate - exact) / abs(exact)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> dict[str, float]:
    """wrk's 'Requests/sec:', total request count and, with ``--latency``, its latency
    distribution (50/75/90/99 %, as p50... in ms) from its stdout."""
    out: dict[str, float] = {}
    in_dist = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            out["rps"] = float(line.split()[1])
        elif " requests in " in line:
            out["requests"] = float(line.split()[0])
        elif line.startswith("Latency Distribution"):
            in_dist = True
        elif in_dist:
            parts = line.split()
            if len(parts) != 2 or not parts[0].endswith("%"):
                in_dist = False
                continue
            value = parts[1].rstrip("umsec")
            unit = parts[1][len(value) :]
            if unit in _WRK_UNITS:
                q = parts[0][:-1].split(".")[0]
                out[f"p{q}"] = float(value) * _WRK_UNITS[unit]
    return out


def parse_k6_summary(data: Mapping[str, Any]) -> dict[str, float]:
    """Numbers from ``k6 run --summary-export`` JSON (the flat legacy layout)."""
    m = data.get("metrics", {})
    out: dict[str, float] = {}
    reqs = m.get("http_reqs", {})
    if "count" in reqs:
        out["requests"] = float(reqs["count"])
        out["rps"] = float(reqs.get("rate", 0.0))
    dur = m.get("http_req_duration", {})
    for k6_key, ours in (("med", "p50"), ("p(50)", "p50"), ("p(95)", "p95"), ("p(99)", "p99")):
        if k6_key in dur:
            out[ours] = float(dur[k6_key])
    if "avg" in dur:
        out["avg"] = float(dur["avg"])
    failed = m.get("http_req_failed", {})
    if "value" in failed:
        out["failed_rate"] = float(failed["value"])
    return out


def parse_locust_csv(text: str) -> dict[str, float]:
    """The 'Aggregated' row of Locust's ``--csv PREFIX`` *_stats.csv file."""
    import csv
    import io

    for row in csv.DictReader(io.StringIO(text)):
        if row.get("Name") == "Aggregated":
            out = {
                "requests": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
            }
            for col, key in (("50%", "p50"), ("95%", "p95"), ("99%", "p99")):
                if row.get(col) not in (None, "", "N/A"):
                    out[key] = float(row[col])
            return out
    return {}


# ---------------------------------------------------------------------------------------
# /proc readers
# ---------------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> float | None:
    """A kB field of /proc/PID/status (VmRSS, VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    """Every descendant of pid (one pass over /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in parents.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------
# Processes: pinned, sampled, always killed
# ---------------------------------------------------------------------------------------


def _raise_nofile() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pinned(core: str | None, argv: Sequence[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if core is not None else list(argv)


@dataclass
class Sampler:
    """Samples a process's CPU-seconds and RSS every ``every`` s in a thread."""

    pid: int
    every: float = 0.25
    pick: Any = None  # optional callable(pid) -> pid to sample (e.g. a Ray actor child)
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, cpu, rss)
    peak_rss_kb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    target_pid: int | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            pid = self.pid
            if self.pick is not None:
                if self.target_pid is None or proc_cpu_seconds(self.target_pid) is None:
                    self.target_pid = self.pick(self.pid)
                pid = self.target_pid or -1
            cpu = proc_cpu_seconds(pid) if pid > 0 else None
            rss = proc_status_kb(pid, "VmRSS") if pid > 0 else None
            hwm = proc_status_kb(pid, "VmHWM") if pid > 0 else None
            if cpu is not None and rss is not None:
                self.samples.append((time.monotonic(), cpu, rss))
                self.peak_rss_kb = max(self.peak_rss_kb, rss, hwm or 0.0)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def cpu_share(self, t_from: float, t_to: float) -> float | None:
        """CPU-seconds per wall second between two instants (monotonic), from the samples."""
        inside = [s for s in self.samples if t_from <= s[0] <= t_to]
        if len(inside) < 2:
            return None
        (t0, c0, _), (t1, c1, _) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None


@dataclass
class RunResult:
    argv: list[str]
    rc: int | None
    wall_s: float
    stdout: str
    stderr: str
    cpu_share: float | None  # CPU-seconds per second during the steady window
    peak_rss_kb: float
    cpu_total_s: float | None
    loadavg_start: list[float]
    loadavg_end: list[float]


def run_pinned(
    argv: Sequence[str],
    core: str | None = GENERATOR_CORE,
    timeout: float = 120.0,
    window: tuple[float, float] | None = None,
    pick: Any = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> RunResult:
    """Run a command pinned to ``core``; sample its CPU/RSS; kill it on timeout.

    ``window`` = (from, to) seconds after launch: the CPU share is measured there, so
    start-up (imports, VU init) does not count against a tool's requests per CPU-second.
    """
    full = pinned(core, argv)
    la0 = loadavg()
    t_launch = time.monotonic()
    proc = subprocess.Popen(
        full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=str(cwd) if cwd else None,
        preexec_fn=_raise_nofile,
        start_new_session=True,
    )
    sampler = Sampler(proc.pid, pick=pick).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
    finally:
        sampler.stop()
        kill_group(proc)
    wall = time.monotonic() - t_launch
    share = None
    if window is not None:
        share = sampler.cpu_share(t_launch + window[0], t_launch + window[1])
    total = sampler.samples[-1][1] if sampler.samples else None
    return RunResult(
        list(full),
        proc.returncode,
        wall,
        out,
        err,
        share,
        sampler.peak_rss_kb,
        total,
        la0,
        loadavg(),
    )


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group we started, then SIGKILL what is left."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def background(
    argv: Sequence[str],
    core: str | None = TARGET_CORE,
    ready: Any = None,
    ready_timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[Any]]:
    """A server in its own process group, pinned; ``ready()`` polled before yielding."""
    sink: Any = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        pinned(core, argv),
        stdout=sink,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=_raise_nofile,
        start_new_session=True,
    )
    try:
        if ready is not None:
            deadline = time.monotonic() + ready_timeout
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {proc.returncode} before ready")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} not ready after {ready_timeout:.0f}s")
                time.sleep(0.1)
        yield proc
    finally:
        kill_group(proc)
        if log:
            sink.close()


def http_ok(url: str, timeout: float = 1.0) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 500
    except Exception:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------
# Machine and versions
# ---------------------------------------------------------------------------------------


def _cmd_version(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def machine_info() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb: float | None = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = float(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round((mem_kb or 0) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def tool_paths() -> dict[str, str]:
    def first(*cands: Path | str) -> str:
        for c in cands:
            if Path(c).exists():
                return str(c)
        return str(cands[-1])

    return {
        "k6": first(VENV_BIN / "k6", Path(sys.prefix) / "bin" / "k6", "k6"),
        "locust": first(VENV_BIN / "locust", "locust"),
        "wrk": first("/usr/bin/wrk", "wrk"),
        "nginx": first("/usr/sbin/nginx", "nginx"),
        "python": sys.executable,
    }


def versions() -> dict[str, str]:
    paths = tool_paths()
    out = {
        "k6": _cmd_version([paths["k6"], "--version"]),
        "locust": _cmd_version([paths["locust"], "--version"]).split(" from ")[0],
        "wrk": _cmd_version([paths["wrk"], "--version"]).split(" Copyright")[0],
        "nginx": _cmd_version([paths["nginx"], "-v"]),
        "python": platform.python_version(),
    }
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("veza-ray", "aiohttp", "ray", "uvloop", "fastdigest", "orjson"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


def write_result(case: str, data: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{case}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")
    tmp.replace(path)
    return path


def read_result(case: str) -> dict[str, Any] | None:
    path = RESULTS / f"{case}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
