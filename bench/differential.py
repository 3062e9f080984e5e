"""The differential sweep against real k6, beyond the suite's fixed seeds.

    python3 -m bench.differential --seeds 20            # seeds 1..20, 1 and 3 actors
    python3 -m bench.differential --seeds 5 --first 100 --actors 1

Each seed is drawn, served and compared exactly as in tests/differential/ (the seeded
target, the k6 script and the veza-ray scenario from one seed, real k6 and the veza-ray
CLI on a local Ray): see docs/http-client.md, "The differential harness". Prints one line
per seed and run, then a table of every disagreement (quantity, k6, veza-ray, tolerance);
``--json PATH`` also writes every row. Exit 1 when any run disagrees with k6.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "differential")]

from diff_plan import draw  # noqa: E402
from diff_runs import Comparison, compare, run_k6, run_veza  # noqa: E402
from diff_target import Target  # noqa: E402


def sweep(seeds: list[int], actors: list[int], tmp: Path) -> list[Comparison]:
    out = []
    for seed in seeds:
        plan = draw(seed)
        t0 = time.monotonic()
        with Target(plan.acts) as target:
            k6 = run_k6(plan, target, tmp)
            runs = [run_veza(plan, target, tmp, n) for n in actors]
        for vr in runs:
            c = compare(plan, k6, vr)
            out.append(c)
            bad = len(c.disagreements())
            print(
                f"seed {seed:>4} {vr.tool:<12} {len(plan.acts):>4} requests  "
                f"exit k6 {k6.rc} / {vr.rc}  {'agrees' if not bad else f'{bad} disagreements'}"
                f"  ({time.monotonic() - t0:.0f}s)",
                flush=True,
            )
            for r in c.disagreements():
                print(f"    {r.what}: k6 {r.k6!r} / {r.other!r} (tolerance {r.tol:.4g})")
    return out


def table(comparisons: list[Comparison]) -> str:
    rows = [("seed", "run", "quantity", "k6", "veza-ray", "tolerance")]
    for c in comparisons:
        for r in c.disagreements():
            rows.append(
                (str(c.seed), c.tool, r.what, str(r.k6), str(r.other), f"{r.tol:.4g} {r.note}")
            )
    if len(rows) == 1:
        return "no disagreement with k6"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m bench.differential", description=__doc__)
    p.add_argument("--seeds", type=int, default=10, help="how many seeds")
    p.add_argument("--first", type=int, default=1, help="the first seed")
    p.add_argument("--actors", type=int, nargs="+", default=[1, 3], help="veza-ray runs")
    p.add_argument("--json", type=Path, help="write every compared row here")
    args = p.parse_args(argv)
    seeds = list(range(args.first, args.first + args.seeds))
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        comparisons = sweep(seeds, args.actors, Path(tmp))
    print()
    print(table(comparisons))
    if args.json:
        data: list[dict[str, Any]] = [
            {
                "seed": c.seed,
                "run": c.tool,
                "rows": [
                    {"what": r.what, "k6": r.k6, "veza_ray": r.other, "tol": r.tol, "ok": r.agrees}
                    for r in c.rows
                ],
            }
            for c in comparisons
        ]
        args.json.write_text(json.dumps(data, indent=1))
    return 1 if any(c.disagreements() for c in comparisons) else 0


if __name__ == "__main__":
    sys.exit(main())
