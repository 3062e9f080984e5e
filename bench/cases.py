"""The five benchmark cases. Each writes bench/results/<case>.json and returns its dict.

Generators run on core 0, targets on core 1 (``taskset``); tools alternate A B C A B C;
the table shows medians of the repetitions; each run records the load average at its
start and end (the box is shared: others' work shows up there).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import harness as H
from bench import targets

PY = sys.executable
SCRIPTS = H.BENCH / "scripts"


def _rel(p: Path | str) -> str:
    try:
        return str(Path(p).resolve().relative_to(H.ROOT))
    except ValueError:
        return str(p)


def _cmd_text(argv: list[str]) -> str:
    """The command as a reader would type it (repo-relative paths, tool names)."""
    paths = {v: k for k, v in H.tool_paths().items() if k != "python"}
    out = []
    for a in argv:
        if a in paths:
            out.append(paths[a])
        elif a == PY:
            out.append("python")
        elif a.startswith(str(H.ROOT)):
            out.append(_rel(a))
        elif a.startswith(tempfile.gettempdir() + "/bench-"):
            out.append("$TMP/" + Path(a).name)
        else:
            out.append(a)
    return " ".join(out)


def _base(case: str, args: Any) -> dict[str, Any]:
    return {
        "case": case,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_start": H.loadavg(),
        "machine": H.machine_info(),
        "reps": args.reps,
        "duration_s": args.duration,
        "note": "shared 2-core box: other sessions' tests run at the same time",
    }


def _finish(case: str, data: dict[str, Any]) -> dict[str, Any]:
    data["loadavg_end"] = H.loadavg()
    data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    path = H.write_result(case, data)
    H.log(f"{case}: wrote {_rel(path)}")
    return data


def _run_record(r: H.RunResult, **extra: Any) -> dict[str, Any]:
    rec = {
        "cmd": _cmd_text(r.argv),
        "rc": r.rc,
        "wall_s": round(r.wall_s, 2),
        "cpu_share": round(r.cpu_share, 3) if r.cpu_share is not None else None,
        "peak_rss_kb": r.peak_rss_kb,
        "loadavg_start": r.loadavg_start,
        "loadavg_end": r.loadavg_end,
    }
    rec.update(extra)
    if r.rc not in (0, None) and not extra.get("rc_ok"):
        rec["stderr_tail"] = r.stderr[-600:]
    return rec


# ---------------------------------------------------------------------------------------
# Tool runners: each returns (RunResult, parsed numbers)
# ---------------------------------------------------------------------------------------


def run_wrk(
    url: str, vus: int, dur: float, latency: bool = False
) -> tuple[H.RunResult, dict[str, float]]:
    T = H.tool_paths()
    r = H.run_pinned(
        [T["wrk"], "-t1", f"-c{vus}", f"-d{int(dur)}s", *(["--latency"] if latency else []), url],
        window=(1.5, dur - 0.5),
        timeout=dur + 30,
    )
    return r, H.parse_wrk(r.stdout)


def run_k6(
    script: str,
    url: str,
    vus: int,
    dur: float,
    window: tuple[float, float] | None = None,
    timeout: float | None = None,
) -> tuple[H.RunResult, dict[str, float]]:
    T = H.tool_paths()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "k6-summary.json"
        r = H.run_pinned(
            [
                T["k6"],
                "run",
                "-q",
                "--no-usage-report",
                "--no-color",
                "--vus",
                str(vus),
                "--duration",
                f"{int(dur)}s",
                "--summary-trend-stats",
                "avg,med,p(95),p(99)",
                "--summary-export",
                str(out),
                "-e",
                f"URL={url}",
                str(SCRIPTS / script),
            ],
            window=window or (1.5, dur - 0.5),
            timeout=timeout or dur + 60,
            env={"K6_NO_USAGE_REPORT": "true"},
        )
        parsed = H.parse_k6_summary(json.loads(out.read_text())) if out.exists() else {}
    return r, parsed


def run_locust(
    url: str, vus: int, dur: float, wait: float = 0.0, timeout: float | None = None
) -> tuple[H.RunResult, dict[str, float]]:
    T = H.tool_paths()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        prefix = Path(tmp) / "locust"
        r = H.run_pinned(
            [
                T["locust"],
                "-f",
                str(SCRIPTS / "locust_fast.py"),
                "--headless",
                "-u",
                str(vus),
                "-r",
                str(vus),
                "-t",
                f"{int(dur)}s",
                "--host",
                url.rstrip("/"),
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "2",
            ],
            window=(3.5, dur + 1.5),
            timeout=timeout or dur + 60,
            env={"BENCH_WAIT": str(wait)},
        )
        stats = Path(str(prefix) + "_stats.csv")
        parsed = H.parse_locust_csv(stats.read_text()) if stats.exists() else {}
    return r, parsed


def run_vr_inproc(
    script: str,
    url: str,
    vus: int,
    dur: float,
    loop: str = "uvloop",
    patches: list[str] | None = None,
    timeout: float | None = None,
) -> tuple[H.RunResult, dict[str, Any]]:
    argv = [
        PY,
        "-m",
        "bench.vr_inproc",
        str(SCRIPTS / script),
        "-e",
        f"URL={url}",
        "-e",
        f"VUS={vus}",
        "-e",
        f"DURATION={int(dur)}s",
        "--loop",
        loop,
    ]
    for p in patches or []:
        argv += ["--patch", p]
    r = H.run_pinned(argv, window=(2.0, dur + 0.5), timeout=timeout or dur + 60, cwd=H.ROOT)
    parsed: dict[str, Any] = {}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if lines:
        parsed = json.loads(lines[-1])
    return r, parsed


def _ray_actor(pid: int) -> int | None:
    for c in H.children_of(pid):
        if "LoadActor" in H.cmdline(c):
            return c
    return None


def run_vr_cli(
    script: str, env: dict[str, str], actors: int, core: str, timeout: float = 120.0
) -> tuple[H.RunResult, dict[str, Any], H.Sampler | None]:
    """``veza-ray run`` on a local Ray (started and stopped by the CLI), pinned to ``core``."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "summary.json"
        argv = [
            PY,
            "-m",
            "veza_ray.cli",
            "run",
            str(script),
            "--actors",
            str(actors),
            "-q",
            "--summary-export",
            str(out),
            "--no-preflight",
        ]
        for k, v in env.items():
            argv += ["-e", f"{k}={v}"]
        r = H.run_pinned(
            argv,
            core=core,
            timeout=timeout,
            pick=None,
            cwd=H.ROOT,
            env={"SUMMARY_PATH": str(Path(tmp) / "handle.json")},
        )
        summary = json.loads(out.read_text()) if out.exists() else {}
    return r, summary, None


# ---------------------------------------------------------------------------------------
# Case 1: throughput
# ---------------------------------------------------------------------------------------

THROUGHPUT_TOOLS = [
    "wrk",
    "k6_plain",
    "k6_check_trend",
    "locust_fast",
    "vr_runner",
    "vr_cli",
]


def case_throughput(args: Any) -> dict[str, Any]:
    data = _base("throughput", args)
    vus, dur = 50, args.duration
    tools = [t for t in THROUGHPUT_TOOLS if not args.only or t in args.only]
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    with targets.nginx() as url:
        data["target"] = {
            "kind": "nginx",
            "url": url,
            "core": H.TARGET_CORE,
            "config": 'worker_processes 1; return 200 "ok"; access_log off',
        }
        for rep in range(args.reps):
            for tool in tools:
                H.log(f"throughput rep {rep + 1}/{args.reps}: {tool}")
                rec = _throughput_one(tool, url, vus, dur)
                runs[tool].append(rec)
    data["runs"] = runs
    data["median"] = {
        t: {k: H.median([r.get(k) for r in rs]) for k in ("rps", "cpu_share", "req_per_cpu_s")}
        for t, rs in runs.items()
    }
    return _finish("throughput", data)


def _throughput_one(tool: str, url: str, vus: int, dur: float) -> dict[str, Any]:
    if tool == "wrk":
        r, p = run_wrk(url, vus, dur)
    elif tool == "k6_plain":
        r, p = run_k6("k6_plain.js", url, vus, dur)
    elif tool == "k6_check_trend":
        r, p = run_k6("k6_check_trend.js", url, vus, dur)
    elif tool == "locust_fast":
        r, p = run_locust(url, vus, dur)
    elif tool == "vr_runner":
        r, p = run_vr_inproc("vr_check_trend.py", url, vus, dur)
    elif tool == "vr_cli":
        return _throughput_vr_cli(url, vus, dur)
    else:
        raise ValueError(tool)
    rps = p.get("rps")
    rec = _run_record(r, rps=rps, requests=p.get("requests"))
    rec["req_per_cpu_s"] = H.ratio(rps, r.cpu_share)
    if tool.startswith("vr_runner"):
        rec["loop"] = p.get("loop")
        rec["loop_lag_p99_ms"] = p.get("loop_lag_p99_ms")
    return rec


def _throughput_vr_cli(url: str, vus: int, dur: float) -> dict[str, Any]:
    env = {"URL": url, "VUS": str(vus), "DURATION": f"{int(dur)}s"}
    script = SCRIPTS / "vr_check_trend.py"
    T0 = time.time() - time.monotonic()
    sampler_box: dict[str, Any] = {}

    # Sample the actor process (a child of the CLI's local Ray) while it runs.
    import threading

    stop = threading.Event()

    def watch() -> None:
        me = os.getpid()
        deadline = time.monotonic() + dur + 90
        while not stop.is_set() and time.monotonic() < deadline:
            pid = _ray_actor(me)
            if pid:
                s = H.Sampler(pid).start()
                sampler_box["s"] = s
                stop.wait(dur + 90)
                s.stop()
                return
            stop.wait(0.25)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        r, summary, _ = run_vr_cli(str(script), env, 1, H.GENERATOR_CORE, timeout=dur + 90)
    finally:
        stop.set()
        th.join(timeout=5)
    m = summary.get("metrics", {})
    rps = m.get("http_reqs", {}).get("values", {}).get("rate")
    run = summary.get("veza_ray", {}).get("run", {})
    share = None
    s = sampler_box.get("s")
    if s is not None and run:
        a = run["start_epoch"] - T0 + 1.0
        b = run["end_epoch"] - T0 - 1.0
        share = s.cpu_share(a, b)
    actors = summary.get("veza_ray", {}).get("actors", [])
    rec = _run_record(r, rps=rps, requests=m.get("http_reqs", {}).get("values", {}).get("count"))
    rec["cpu_share"] = round(share, 3) if share is not None else None
    rec["cpu_of"] = "the Ray actor process (ray::LoadActor), sampled from /proc"
    rec["req_per_cpu_s"] = H.ratio(rps, share)
    rec["actor_loop_lag_p99_ms"] = actors[0].get("loop_lag_p99_ms") if actors else None
    rec["actor_cpu_max"] = actors[0].get("cpu_max") if actors else None
    rec["run_duration_s"] = run.get("duration_s")
    return rec


# ---------------------------------------------------------------------------------------
# Case 2: memory
# ---------------------------------------------------------------------------------------

MEMORY_TOOLS = ["vr_runner", "k6", "locust_fast"]


def case_memory(args: Any) -> dict[str, Any]:
    data = _base("memory", args)
    dur = args.mem_duration
    data["duration_s"] = dur
    sizes = [1, 1000, 10000]
    tools = [t for t in MEMORY_TOOLS if not args.only or t in args.only]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        t: {str(n): [] for n in sizes} for t in tools
    }
    with targets.nginx() as url:
        data["target"] = {"kind": "nginx", "url": url, "core": H.TARGET_CORE}
        for rep in range(args.reps):
            for n in sizes:
                for tool in tools:
                    H.log(f"memory rep {rep + 1}/{args.reps}: {tool} {n} VUs")
                    runs[tool][str(n)].append(_memory_one(tool, url, n, dur))
    data["runs"] = runs
    med: dict[str, Any] = {}
    for tool, by_n in runs.items():
        base = H.median([r["peak_rss_kb"] for r in by_n["1"]])
        med[tool] = {"baseline_kb": base}
        for n in sizes[1:]:
            peak = H.median([r["peak_rss_kb"] for r in by_n[str(n)]])
            med[tool][str(n)] = {
                "peak_kb": peak,
                "per_vu_kb": H.per_vu_kb(peak, base, n),
                "requests": H.median([r.get("requests") for r in by_n[str(n)]]),
            }
    data["median"] = med
    return _finish("memory", data)


def _memory_one(tool: str, url: str, vus: int, dur: float) -> dict[str, Any]:
    timeout = dur + 120
    if tool == "vr_runner":
        r, p = run_vr_inproc("vr_sleep.py", url, vus, dur, timeout=timeout)
        peak = max(r.peak_rss_kb, p.get("peak_rss_kb") or 0.0)
        return {
            **_run_record(r, requests=p.get("requests"), loop_lag_p99_ms=p.get("loop_lag_p99_ms")),
            "peak_rss_kb": peak,
        }
    if tool == "k6":
        r, p = run_k6("k6_sleep.js", url, vus, dur, timeout=timeout)
    else:
        r, p = run_locust(url, vus, dur, wait=1.0, timeout=timeout)
    return _run_record(r, requests=p.get("requests"))


# ---------------------------------------------------------------------------------------
# Case 3: latency fidelity
# ---------------------------------------------------------------------------------------


def case_latency(args: Any) -> dict[str, Any]:
    data = _base("latency", args)
    vus, dur, delay = 20, args.duration, 0.05
    # wrk (C, one thread, HdrHistogram) is the low-overhead reference: what a client that
    # adds next to nothing of its own measures against the same server.
    runs: dict[str, list[dict[str, Any]]] = {"k6": [], "vr_runner": [], "wrk": []}
    with targets.delay_server(delay) as url:
        data["target"] = {
            "kind": "aiohttp fixed delay",
            "delay_ms": delay * 1000,
            "url": url,
            "core": H.TARGET_CORE,
            "vus": vus,
        }
        for rep in range(args.reps):
            for tool in runs:
                H.log(f"latency rep {rep + 1}/{args.reps}: {tool}")
                if tool == "k6":
                    r, p = run_k6("k6_plain.js", url, vus, dur)
                elif tool == "wrk":
                    r, p = run_wrk(url, vus, dur, latency=True)
                else:
                    r, p = run_vr_inproc("vr_plain.py", url, vus, dur)
                runs[tool].append(
                    _run_record(
                        r,
                        requests=p.get("requests"),
                        **{k: p.get(k) for k in ("p50", "p95", "p99", "avg")},
                    )
                )
    data["runs"] = runs
    med = {
        t: {k: H.median([r.get(k) for r in rs]) for k in ("p50", "p95", "p99", "avg")}
        for t, rs in runs.items()
    }
    data["median"] = med
    data["vs_wrk"] = {
        q: {t: med[t][q] - med["wrk"][q] for t in ("k6", "vr_runner") if med[t][q] is not None}
        for q in ("p50", "p99")
        if med["wrk"][q] is not None
    }
    verdict = {}
    for q in ("p50", "p95", "p99"):
        ours, ref = med["vr_runner"][q], med["k6"][q]
        if ours is None or ref is None:
            continue
        verdict[q] = {
            "veza_ray_ms": ours,
            "k6_ms": ref,
            "diff_ms": ours - ref,
            "allowed_ms": 0.02 * ref + 1.0,
            "within": H.within_fidelity(ours, ref),
        }
    data["fidelity"] = verdict
    return _finish("latency", data)


# ---------------------------------------------------------------------------------------
# Case 4: digest accuracy and the driver's merge cost
# ---------------------------------------------------------------------------------------


def case_digest(args: Any) -> dict[str, Any]:
    data = _base("digest", args)
    H.log("digest: running pinned to core 0")
    r = H.run_pinned(
        [
            PY,
            "-m",
            "bench.digest_merge",
            "--reps",
            str(max(3, args.reps)),
            "--actors",
            "4,16,64",
            "--per-series",
            "200,2000",
        ],
        core=H.GENERATOR_CORE,
        timeout=600,
        cwd=H.ROOT,
    )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"digest_merge failed: {r.stderr[-1500:]}")
    data.update(json.loads(lines[-1]))
    data["cmd"] = _cmd_text(r.argv)
    return _finish("digest", data)


# ---------------------------------------------------------------------------------------
# Case 5: scale curve on a local Ray
# ---------------------------------------------------------------------------------------

# Per actor: the seed mix scaled down. Upload has no think time (it posts 10 x 1 MiB as
# fast as it can), so it has no planned rate; the three others are paced by sleeps.
SCALE_VUS = {"UPLOAD_VUS": 1, "STREAM_VUS": 5, "BROWSE_VUS": 10, "CHECKOUT_VUS": 1}
# (requests per iteration, seconds of sleep per iteration): the zero-latency ceiling.
PACED = {
    "streaming": ("STREAM_VUS", 6, 0.4),
    "browse": ("BROWSE_VUS", 1, 0.55),
    "checkout": ("CHECKOUT_VUS", 2, 0.5),
}


def case_scale(args: Any) -> dict[str, Any]:
    data = _base("scale", args)
    dur = args.duration
    counts = [1, 2]
    cores = {1: H.GENERATOR_CORE, 2: "0,1"}
    runs: dict[str, list[dict[str, Any]]] = {str(n): [] for n in counts}
    with targets.emulator() as base:
        data["target"] = {
            "kind": "veza-ray target --profile none",
            "url": base,
            "core": H.TARGET_CORE,
        }
        data["per_actor_vus"] = SCALE_VUS
        for rep in range(args.reps):
            for n in counts:
                H.log(f"scale rep {rep + 1}/{args.reps}: {n} actor(s)")
                env = {k: str(v * n) for k, v in SCALE_VUS.items()}
                env.update(BASE_URL=base, DURATION=f"{int(dur)}s", USER_TOKEN="bench")
                r, summary, _ = run_vr_cli(
                    str(H.ROOT / "scenarios" / "veza_mixed.py"), env, n, cores[n], timeout=dur + 120
                )
                runs[str(n)].append(_scale_record(r, summary, n, dur))
    data["runs"] = runs
    med: dict[str, Any] = {}
    for n, rs in runs.items():
        med[n] = {
            k: H.median([r.get(k) for r in rs])
            for k in (
                "rps",
                "paced_rps",
                "paced_planned_rps",
                "paced_delivered_share",
                "loop_lag_p99_ms",
                "cpu_max",
            )
        }
    one = med.get("1", {}).get("rps")
    for n, m in med.items():
        m["scaling"] = H.ratio(m.get("rps"), (one or 0) * int(n)) if one else None
    data["median"] = med
    data["cores"] = cores
    return _finish("scale", data)


def _scale_record(r: H.RunResult, summary: dict[str, Any], n: int, dur: float) -> dict[str, Any]:
    vr = summary.get("veza_ray", {})
    m = summary.get("metrics", {})
    per_sc: dict[str, float] = {}
    for point in vr.get("intervals", []):
        for sc, e in point.get("scenarios", {}).items():
            per_sc[sc] = per_sc.get(sc, 0.0) + e.get("reqs", 0.0)
    run_s = vr.get("run", {}).get("duration_s") or dur
    # Requests of the paced scenarios over the scenario duration, against their ceiling.
    paced = sum(per_sc.get(sc, 0.0) for sc in PACED) / dur
    planned = sum(SCALE_VUS[envname] * n * reqs / think for envname, reqs, think in PACED.values())
    actors = vr.get("actors", [])
    health = vr.get("generator_health", {})
    return _run_record(
        r,
        rc_ok=r.rc in (0, 99),
        requests=m.get("http_reqs", {}).get("values", {}).get("count"),
        rps=m.get("http_reqs", {}).get("values", {}).get("rate"),
        run_duration_s=run_s,
        reqs_by_scenario=per_sc,
        paced_rps=paced,
        paced_planned_rps=planned,
        paced_delivered_share=H.ratio(paced, planned),
        loop_lag_p99_ms=max((a.get("loop_lag_p99_ms", 0.0) for a in actors), default=None),
        cpu_max=max((a.get("cpu_max", 0.0) for a in actors), default=None),
        actors=[{k: a.get(k) for k in ("id", "pid", "loop_lag_p99_ms", "cpu_max")} for a in actors],
        saturated=health.get("saturated"),
        http_req_failed=m.get("http_req_failed", {}).get("values", {}).get("rate"),
    )


CASES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "throughput": case_throughput,
    "memory": case_memory,
    "latency": case_latency,
    "digest": case_digest,
    "scale": case_scale,
}
