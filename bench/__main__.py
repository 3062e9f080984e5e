"""``python -m bench CASE [CASE ...]``: veza-ray side by side with wrk, k6 and Locust.

Cases: throughput, memory, latency, digest, scale (or ``all``); ``profile`` profiles
veza-ray's request path and measures the candidate changes in bench/patches.py;
``report`` rewrites docs/BENCHMARKS.md from bench/results/*.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time

CASE_NAMES = ["throughput", "memory", "latency", "digest", "scale"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "cases",
        nargs="+",
        choices=[*CASE_NAMES, "all", "profile", "report"],
        help="what to run; 'all' = the five cases then the report",
    )
    p.add_argument("--reps", type=int, default=3, help="repetitions per tool (median)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    p.add_argument(
        "--mem-duration",
        type=float,
        default=8.0,
        help="seconds per memory run (VUs sleep 1 s between requests)",
    )
    p.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="restrict a case to these tools (e.g. k6_plain vr_runner)",
    )
    p.add_argument("--no-report", action="store_true", help="do not rewrite the doc")
    args = p.parse_args(argv)

    from bench import harness as H

    todo = []
    for c in args.cases:
        todo += CASE_NAMES if c == "all" else [c]
    t0 = time.monotonic()
    for case in todo:
        if case == "report":
            continue
        H.log(f"=== {case} (load average {H.loadavg()})")
        if case == "profile":
            from bench import profile

            profile.run(args)
        else:
            from bench.cases import CASES

            CASES[case](args)
    if not args.no_report and ("report" in todo or any(c in CASE_NAMES for c in todo)):
        from bench import report

        path = report.write()
        H.log(f"wrote {path}")
    H.log(f"done in {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
