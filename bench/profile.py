"""``python -m bench profile``: where veza-ray's request path spends its time, and what the
candidate changes in bench/patches.py buy.

1. py-spy records case 1's veza-ray runner (50 VUs, check + Trend, nginx on core 1) and the
   collapsed stacks are folded into top self and inclusive costs (Python frames).
2. End to end (5 s runs, alternating): the runner on uvloop and on asyncio, and a bare
   aiohttp loop with no metrics.
3. 10,000 sleeping VUs: the cyclic GC's share.
4. ``bench.micro``: veza-ray's own µs per iteration (network stubbed out): the figure
   other sessions' load disturbs least.
5. The driver's merge (case 4 at 64 actors), as is and with 100-centroid deltas.
Writes bench/results/profile.json (and profile.svg / profile.raw.txt, not committed).
"""

from __future__ import annotations

import collections
import json
import re
import sys
from typing import Any

from bench import harness as H
from bench import targets
from bench.cases import PY, SCRIPTS, _cmd_text, run_vr_inproc

# End to end (case 1's shape): the runner on both loops, and a bare aiohttp loop (no
# metrics at all) as a reference.
E2E: list[tuple[str, list[str]]] = [
    ("veza-ray runner, lean client, uvloop (baseline)", ["vr", "uvloop", "lean"]),
    ("veza-ray runner, lean client, default asyncio loop", ["vr", "asyncio", "lean"]),
    ("bare aiohttp loop, uvloop, no metrics", ["bare", "uvloop", ""]),
]

# (label, bench.micro --client). The earlier candidate patches (lean_request, check_cache,
# iter_sinks, gc_freeze, wire_bin) are in veza_ray/ now; bench/patches.py keeps them for
# the record.
MICRO: list[tuple[str, str]] = [
    ("current code", "lean"),
]

# The one digest candidate left: 100-centroid deltas (cheaper merge, coarser p99.9).
DIGEST_PATCHES = ["", "delta_100"]


def fold(raw: str, top: int = 25) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Self and inclusive shares per frame from py-spy's raw (collapsed) output."""
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        stack, _, n_s = line.rpartition(" ")
        n = int(n_s)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    skip = (
        "runpy",
        "bench/vr_inproc.py",
        "asyncio/runners.py",
        "uvloop/__init__.py",
        "base_events.py",
        "asyncio/events.py",
    )

    def rows(c: collections.Counter[str], drop: bool) -> list[dict[str, Any]]:
        out = []
        for f, n in c.most_common():
            if drop and any(s in f for s in skip):
                continue
            out.append({"frame": f, "share": n / total if total else 0.0})
            if len(out) >= top:
                break
        return out

    return total, rows(self_c, False), rows(incl, True)


def _frame(f: str) -> str:
    f = re.sub(r":\d+\)$", ")", f)
    f = re.sub(r"\(/[^)]*/site-packages/", "(", f)
    return re.sub(r"\(" + re.escape(str(H.ROOT)) + "/", "(", f)


PARTS = ["pyspy", "e2e", "gc", "micro", "merge"]


def run(args: Any) -> dict[str, Any]:
    """Run the parts named in ``--only`` (default: all) and merge into profile.json."""
    parts = [p for p in PARTS if not args.only or p in args.only]
    data: dict[str, Any] = H.read_result("profile") or {}
    data.update(case="profile", machine=H.machine_info(), reps=args.reps)
    data.setdefault("loadavg", {})
    H.RESULTS.mkdir(parents=True, exist_ok=True)
    with targets.nginx() as url:
        for part in parts:
            la0 = H.loadavg()
            if part == "pyspy":
                _pyspy(data, url, args.duration)
            elif part == "e2e":
                _e2e(data, url, args.reps + 2)
            elif part == "gc":
                _gc(data, url)
            elif part == "micro":
                _micro(data, args.reps)
            elif part == "merge":
                _merge(data, max(2, args.reps - 1))
            data["loadavg"][part] = {"start": la0, "end": H.loadavg()}
            H.write_result("profile", data)
    return data


def _pyspy(data: dict[str, Any], url: str, dur: float) -> None:
    raw_path = H.RESULTS / "profile.raw.txt"
    svg_path = H.RESULTS / "profile.svg"
    vr = [PY, "-m", "bench.vr_inproc", str(SCRIPTS / "vr_check_trend.py"), "-e", f"URL={url}"]
    spy = ["py-spy", "record", "--nonblocking", "-r", "250"]
    H.log("profile: py-spy record (raw)")
    r = H.run_pinned(
        [*spy, "-f", "raw", "-o", str(raw_path), "--", *vr, "-e", f"DURATION={int(dur)}s"],
        timeout=dur + 60,
        cwd=H.ROOT,
    )
    data["cmd"] = _cmd_text(r.argv).replace(str(raw_path), "profile.raw.txt")
    data["duration_s"] = dur
    if raw_path.exists():
        total, top_self, top_incl = fold(raw_path.read_text())
        data.update(samples=total, top_self=top_self, top_inclusive=top_incl)
    H.log("profile: py-spy record (flame graph)")
    H.run_pinned(
        [*spy, "-o", str(svg_path), "--", *vr, "-e", "DURATION=5s"], timeout=60, cwd=H.ROOT
    )


def _e2e(data: dict[str, Any], url: str, reps: int) -> None:
    e2e: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in E2E}
    for rep in range(reps):
        for name, (kind, loop, _extra) in E2E:
            H.log(f"profile e2e rep {rep + 1}/{reps}: {name}")
            if kind == "vr":
                r, p = run_vr_inproc("vr_check_trend.py", url, 50, 5, loop=loop)
                rps = p.get("rps")
            else:
                argv = [PY, "-m", "bench.bare_aiohttp", url, "--duration", "5", "--loop", loop]
                r = H.run_pinned(argv, timeout=60, cwd=H.ROOT)
                out = r.stdout.strip().splitlines()
                rps = json.loads(out[-1]).get("rps") if out else None
            e2e[name].append(
                {"rps": rps, "cmd": _cmd_text(r.argv), "loadavg_start": r.loadavg_start}
            )
    data["e2e"] = {
        n: {
            "rps": H.median([x["rps"] for x in rs]),
            "runs": [x["rps"] for x in rs],
            "cmd": rs[0]["cmd"] if rs else "",
        }
        for n, rs in e2e.items()
    }


def _gc(data: dict[str, Any], url: str) -> None:
    """10,000 sleeping VUs: how much of the CPU the cyclic GC still takes."""
    gc_runs: dict[str, list[dict[str, Any]]] = {"current code": []}
    keys = ("requests", "cpu_s", "gc_s", "gc_collections", "loop_lag_p99_ms", "p50")
    for rep in range(2):
        for name in gc_runs:
            H.log(f"profile 10k VUs rep {rep + 1}/2: {name}")
            r, p = run_vr_inproc("vr_sleep.py", url, 10_000, 8)
            gc_runs[name].append({k: p.get(k) for k in keys} | {"cmd": _cmd_text(r.argv)})
    data["gc_10k"] = gc_runs


def _micro(data: dict[str, Any], reps: int) -> None:
    micro: dict[str, list[float]] = {name: [] for name, _ in MICRO}
    for rep in range(reps):
        for name, client in MICRO:
            H.log(f"profile micro rep {rep + 1}/{reps}: {name}")
            argv = [PY, "-m", "bench.micro", "--client", client]
            r = H.run_pinned(argv, timeout=120, cwd=H.ROOT)
            out = r.stdout.strip().splitlines()
            if out:
                micro[name].append(json.loads(out[-1])["us_per_iteration"])
    # The best run: on a shared box a slower run means someone else had the core.
    data["micro"] = {n: {"us": min(v) if v else None, "runs": v} for n, v in micro.items()}


def _merge(data: dict[str, Any], reps: int) -> None:
    best: dict[str, dict[str, Any]] = {}
    for rep in range(reps):
        for patches in DIGEST_PATCHES:
            H.log(f"profile merge rep {rep + 1}/{reps}: patches={patches or 'none'}")
            argv = [PY, "-m", "bench.digest_merge", "--reps", "3", "--actors", "64"]
            argv += ["--per-series", "2000"] + (["--patch", patches] if patches else [])
            r = H.run_pinned(argv, timeout=600, cwd=H.ROOT)
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                continue
            row = json.loads(lines[-1])["rows"][0]
            row["patches"] = patches
            row["round_min_s"] = min(row.pop("driver_round_s")[1:])
            prev = best.get(patches)
            row["runs_min_s"] = [*(prev["runs_min_s"] if prev else []), row["round_min_s"]]
            if prev is None or row["round_min_s"] < prev["round_min_s"]:
                best[patches] = row
            else:
                prev["runs_min_s"] = row["runs_min_s"]
    data["digest_matrix"] = [best[p] for p in DIGEST_PATCHES if p in best]


if __name__ == "__main__":

    class _A:
        duration = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
        reps = 3
        only: list[str] = sys.argv[2:]

    run(_A())
