"""How often does `compare` call a row worse when nothing changed? (the false-alarm rate)

Runs the Veza gate (scenarios/veza_mixed.py, small VUs) N times with the same settings
against one emulator, then compares every pair of runs (N(N-1)/2 pairs, each both ways
is the same test mirrored, so one way) and counts the rows called ``worse``. A last run
with browse made 30 % slower (emulator ``slow``) measures the power on the same data.

    python -m bench.history_noise --runs 8 --duration 10s
    python -m bench.history_noise --reuse DIR   # compare summaries already in DIR

Writes bench/results/history_noise_PROFILE.json and prints the rates. A pair counts as a
false alarm when a row is worse or better (the pair taken the other way round is worse).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from veza_ray.core.compare import compare, run_data
from veza_ray.emulator import EmulatorConfig, EmulatorThread

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "history_noise.json"  # _PROFILE added
GATE_ENV = {"UPLOAD_VUS": "1", "STREAM_VUS": "2", "BROWSE_VUS": "8", "CHECKOUT_VUS": "1"}


def run_gate(out: Path, duration: str, config: EmulatorConfig | None = None) -> int:
    """One `veza-ray run` of the gate; its summary at ``out``; returns the exit code."""
    with EmulatorThread(config or EmulatorConfig()) as emu:
        env = {
            **GATE_ENV,
            "BASE_URL": emu.base_url,
            "USER_TOKEN": "t",
            "DURATION": duration,
            "SUMMARY_PATH": str(out.with_suffix(".handle.json")),
        }
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
        ]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        res = subprocess.run(
            args,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "VEZA_RAY_ALLOW_SATURATED": "1"},
        )
    return res.returncode


def pair_stats(paths: list[Path]) -> dict[str, Any]:
    data = [run_data(json.loads(p.read_text()), p.name) for p in paths]
    pairs = rows = worse_rows = worse_pairs = 0
    noise_rows = 0
    by_key: dict[str, int] = {}
    for a, b in itertools.combinations(data, 2):
        result = compare(a, b)
        pairs += 1
        rows += len(result["rows"])
        # worse or better: the same pair taken the other way round is worse
        worse = [r for r in result["rows"] if r["verdict"] in ("worse", "better")]
        worse_rows += len(worse)
        noise_rows += sum(1 for r in result["rows"] if r["verdict"] == "noise")
        worse_pairs += bool(worse)
        for r in worse:
            by_key[r["key"]] = by_key.get(r["key"], 0) + 1
    return {
        "runs": len(paths),
        "pairs": pairs,
        "rows": rows,
        "worse_rows": worse_rows,
        "noise_rows": noise_rows,
        "pairs_with_a_worse_row": worse_pairs,
        "false_alarm_rate_per_pair": worse_pairs / pairs if pairs else 0.0,
        "false_alarm_rate_per_row": worse_rows / rows if rows else 0.0,
        "worse_by_row": by_key,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--reuse", help="a directory of summaries to compare instead of running")
    ap.add_argument("--profile", default="steady", help="the emulator's latency profile")
    args = ap.parse_args()
    work = Path(args.reuse or tempfile.mkdtemp(prefix="vr-history-noise-"))
    if not args.reuse:
        same = EmulatorConfig(profile=args.profile)
        codes = [run_gate(work / f"run{i}.json", args.duration, same) for i in range(args.runs)]
        slow = EmulatorConfig(profile=args.profile, slow=(("browse", 1.3),))
        codes.append(run_gate(work / "slow.json", args.duration, slow))
        print("exit codes:", codes)
    same = sorted(p for p in work.glob("run*.json") if not p.name.endswith(".handle.json"))
    result = pair_stats(same)
    slow_path = work / "slow.json"
    if slow_path.is_file():
        slowed = run_data(json.loads(slow_path.read_text()), "slow")
        hits = []
        for p in same:
            rows = compare(run_data(json.loads(p.read_text()), p.name), slowed)["rows"]
            hits.append(sorted(r["key"] for r in rows if r["verdict"] == "worse"))
        result["browse_30pct_slower"] = {
            "pairs": len(hits),
            "browse_p95_worse": sum("http_req_duration{scenario:browse}" in h for h in hits),
            "other_rows_worse": sum(
                len([k for k in h if k != "http_req_duration{scenario:browse}"]) for h in hits
            ),
        }
    result["settings"] = {
        "gate_env": GATE_ENV,
        "duration": args.duration,
        "profile": args.profile,
        "dir": str(work),
    }
    out = RESULTS.with_name(f"history_noise_{args.profile}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
