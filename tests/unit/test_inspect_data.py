"""``veza-ray inspect`` shows each actor's slice of every data file (core/inspect.py)."""

from __future__ import annotations

from veza_ray.core.datasplit import DataSpec
from veza_ray.core.inspect import build_report, render
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan


def test_report_and_text_show_each_actors_rows() -> None:
    options = parse_options(
        {"scenarios": {"s": {"executor": "shared-iterations", "vus": 4, "iterations": 12}}}
    )
    spec: DataSpec = {
        "name": "users.csv", "split": "per-iteration", "on_exhausted": "stop", "rows": 10,
        "scenario": "s",
    }  # fmt: skip
    report = build_report(options, make_plan(options.scenarios, 3), None, [spec])
    (data,) = report["data"]
    assert [(s["actor"], s["rows"], s["count"]) for s in data["slices"]] == [
        (0, "0, 2, 4, 6, 8", 5),
        (1, "1, 5, 9", 3),
        (2, "3, 7", 2),
    ]
    text = render(report)
    assert "data users.csv: 10 rows, per-iteration, on_exhausted=stop" in text
    assert "  actor 1 (s): rows 1, 5, 9 (3)" in text
