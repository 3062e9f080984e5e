"""The gate run five times the same way: `compare` calls no row worse in any pair; the
same gate with browse made 30 % slower (the emulator's `slow`) is worse on browse p95 and
nowhere else while every absolute threshold passes; the history records the runs; a
corrupt history leaves the verdict and the summary intact with a note.

Each run is a real `veza-ray run` (local Ray) of scenarios/veza_mixed.py at small VUs
against the Veza API emulator (profile "steady"): six runs of ~10 s of load, built once
for the module.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from veza_ray.core import exitcodes
from veza_ray.core.compare import compare, run_data
from veza_ray.emulator import EmulatorConfig, EmulatorThread

pytestmark = pytest.mark.ray

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300
RUNS = 5
GATE = {
    "UPLOAD_VUS": "1",
    "STREAM_VUS": "2",
    "BROWSE_VUS": "8",
    "CHECKOUT_VUS": "1",
    "DURATION": "10s",
    "USER_TOKEN": "t",
}
BROWSE_P95 = "http_req_duration{scenario:browse}"


def _run(base_url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """One gate run; retried once when local Ray itself died while starting (exit 1 with
    the raylet gone, or 111), which the shared machine does now and then: a verdict
    (0, 99, 103, 112, 114) is never retried."""
    res = _run_once(base_url, out, *extra)
    if res.returncode in (1, exitcodes.CLUSTER_ERROR) and "raylet" in res.stderr:
        res = _run_once(base_url, out, *extra)
    return res


def _run_once(base_url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable,
        "-m",
        "veza_ray.cli",
        "run",
        "scenarios/veza_mixed.py",
        "--actors",
        "1",
        "--quiet",
        "--summary-export",
        str(out),
        *extra,
    ]
    env = {**GATE, "BASE_URL": base_url, "SUMMARY_PATH": str(out.with_suffix(".hs.json"))}
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ),
        timeout=RUN_TIMEOUT_S,
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veza_ray.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=RUN_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("history-gate")
    db = work / "history.db"
    summaries, codes = [], []
    # "steady": the emulator's own latency (40 ms) dominates the machine's jitter
    with EmulatorThread(EmulatorConfig(profile="steady")) as emu:
        for i in range(RUNS):
            out = work / f"run{i}.json"
            # from the second run on, each is judged against the last green one, as nightly
            baseline = ["--baseline", "last-green"] if i else []
            res = _run(emu.base_url, out, "--history", str(db), "--tag", "env=test", *baseline)
            codes.append((res.returncode, res.stderr[-2000:]))
            summaries.append(out)
    corrupt = work / "corrupt.db"
    corrupt.write_bytes(b"not a database " * 300)
    slow_out = work / "slow.json"
    with EmulatorThread(EmulatorConfig(profile="steady", slow=(("browse", 1.3),))) as emu:
        slow = _run(
            emu.base_url, slow_out, "--baseline", str(summaries[0]), "--history", str(corrupt)
        )
    return {
        "db": db,
        "summaries": summaries,
        "codes": codes,
        "slow": slow,
        "slow_out": slow_out,
        "corrupt": corrupt,
    }


def test_five_same_runs_have_no_worse_row_in_any_pair(nights: dict[str, Any]) -> None:
    for code, err in nights["codes"]:
        assert code == 0, err
    data = [run_data(json.loads(p.read_text()), p.name) for p in nights["summaries"]]
    for a, b in itertools.combinations(data, 2):
        result = compare(a, b)
        assert len(result["rows"]) >= 10
        assert not result["worse"], (a["label"], b["label"], result["worse"])
    for path in nights["summaries"][1:]:  # run --baseline last-green: compared, not worse
        comparison = json.loads(path.read_text())["veza_ray"]["comparison"]
        assert comparison["base"].startswith("run #") and not comparison["regressed"]
    first, last = nights["summaries"][0], nights["summaries"][-1]
    res = _cli("compare", str(first), str(last))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no regression: no row is worse than the baseline" in res.stdout
    assert "Mann-Whitney U" in res.stdout


def test_the_history_holds_the_runs(nights: dict[str, Any]) -> None:
    db = str(nights["db"])
    res = _cli("history", "--history", db, "--tag", "env=test")
    assert res.returncode == 0
    assert len(res.stdout.strip().splitlines()) == RUNS + 1
    # five runs on one day: one night
    assert _cli("history", "accept", "--history", db, "--nights", "1").returncode == 0
    res = _cli("history", "accept", "--history", db, "--nights", "2")
    assert res.returncode == exitcodes.NOT_ACCEPTED
    assert "night 2 of 2 broke the chain: no run on" in res.stdout
    last = json.loads(nights["summaries"][-1].read_text())["veza_ray"]
    assert last["history"]["run_id"] == RUNS
    assert [r["id"] for r in last["history"]["runs"]] == list(range(1, RUNS + 1))
    # the recorded digests give back the run's own percentiles
    res = _cli("compare", "--history", db, "--json", "1", str(nights["summaries"][0]))
    assert res.returncode == 0
    rows = json.loads(res.stdout)["rows"]
    browse = next(r for r in rows if r["key"] == BROWSE_P95)
    assert browse["base"]["p95"] == pytest.approx(browse["new"]["p95"], rel=1e-9)


def test_browse_30_percent_slower_is_worse_on_browse_p95_only(nights: dict[str, Any]) -> None:
    res = nights["slow"]
    assert res.returncode == exitcodes.BASELINE_REGRESSION, res.stderr[-3000:]
    summary = json.loads(nights["slow_out"].read_text())
    vr = summary["veza_ray"]
    assert all(v["ok"] for v in vr["verdicts"]), vr["verdicts"]  # absolute bounds hold
    comparison = vr["comparison"]
    assert comparison["worse"] == [f"{BROWSE_P95} p(95)"]
    row = next(r for r in comparison["rows"] if r["key"] == BROWSE_P95)
    assert row["change_pct"] > 10 and row["p_value"] < 0.01
    outcome = vr["outcome"]
    assert outcome["code"] == 114
    assert outcome["reasons"][0].startswith(f"worse than the baseline: {BROWSE_P95} p(95)")
    # the corrupt history: a note, nothing else lost
    assert any(n.startswith("run not recorded in the history") for n in outcome["notes"])
    assert "history" not in vr
    assert nights["corrupt"].read_bytes() == b"not a database " * 300
