"""Which data rows each VU, iteration and actor gets (core/datasplit.py): tables."""

from __future__ import annotations

from typing import Any

import pytest

from veza_ray.core.datasplit import (
    DataSpec,
    DataUse,
    data_slices,
    merge_usage,
    mode_problems,
    pick_row,
    ranges,
    usage_line,
)
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan


@pytest.mark.parametrize(
    ("split", "on_exhausted", "rows", "vu_index", "iteration", "want"),
    [
        ("per-vu", "stop", 5, 0, 99, 0),  # the VU's row, whatever the iteration
        ("per-vu", "stop", 5, 4, 0, 4),
        ("per-vu", "stop", 5, 5, 0, None),  # a 6th VU: no row left
        ("per-vu", "cycle", 5, 7, 0, 2),
        ("per-iteration", "stop", 5, 3, 0, 0),  # the iteration's row, whatever the VU
        ("per-iteration", "stop", 5, 0, 4, 4),
        ("per-iteration", "stop", 5, 0, 5, None),
        ("per-iteration", "cycle", 5, 0, 12, 2),
        ("per-iteration", "cycle", 0, 0, 0, None),  # an empty file has no row
    ],
)
def test_pick_row(
    split: str, on_exhausted: str, rows: int, vu_index: int, iteration: int, want: int | None
) -> None:
    assert pick_row(split, on_exhausted, rows, vu_index, iteration) == want


def test_mode_problems_name_the_bad_choice() -> None:
    assert mode_problems("per-vu", "stop") == []
    assert mode_problems("per-row", "cycle") == [
        "split='per-row': choose one of per-vu, per-iteration"
    ]
    assert mode_problems("per-vu", "wrap") == ["on_exhausted='wrap': choose one of stop, cycle"]


@pytest.mark.parametrize(
    ("indices", "want"),
    [([], "none"), ([3], "3"), ([0, 1, 2, 5, 7, 8], "0-2, 5, 7-8"), ([2, 1, 1, 0], "0-2")],
)
def test_ranges(indices: list[int], want: str) -> None:
    assert ranges(indices) == want


def _slices(raw: dict[str, Any], actors: int, spec: DataSpec) -> list[tuple[int, str, int]]:
    options = parse_options({"scenarios": {"s": raw}})
    report = data_slices([spec], options, make_plan(options.scenarios, actors))
    return [(s["actor"], s["rows"], s["count"]) for s in report[0]["slices"]]


def _spec(split: str, rows: int, on_exhausted: str = "stop") -> DataSpec:
    return {
        "name": "d",
        "split": split,
        "on_exhausted": on_exhausted,
        "rows": rows,
        "scenario": None,
    }


SLICES = [
    # per-vu: contiguous ranges, 10 VUs over 3 actors is 4/3/3
    ({"executor": "constant-vus", "vus": 10, "duration": "1s"}, 3, _spec("per-vu", 10),
     [(0, "0-3", 4), (1, "4-6", 3), (2, "7-9", 3)]),
    # fewer rows than VUs: the last actor's VUs get none under stop ...
    ({"executor": "constant-vus", "vus": 10, "duration": "1s"}, 3, _spec("per-vu", 6),
     [(0, "0-3", 4), (1, "4-5", 2), (2, "none", 0)]),
    # ... and wrap round under cycle
    ({"executor": "constant-vus", "vus": 10, "duration": "1s"}, 3, _spec("per-vu", 6, "cycle"),
     [(0, "0-3", 4), (1, "0, 4-5", 3), (2, "1-3", 3)]),
    # per-iteration, an iteration budget: exactly the planned iterations' rows
    ({"executor": "shared-iterations", "vus": 4, "iterations": 12}, 3, _spec("per-iteration", 100),
     [(0, "0, 2, 4, 6, 8, 10", 6), (1, "1, 5, 9", 3), (2, "3, 7, 11", 3)]),
    # more iterations than rows: each actor's slice stops at the file's end
    ({"executor": "shared-iterations", "vus": 4, "iterations": 40}, 3, _spec("per-iteration", 7),
     [(0, "0, 2, 4, 6", 4), (1, "1, 5", 2), (2, "3", 1)]),
    # time decides the count: the rows of the actor's stripe up to the file's end
    ({"executor": "constant-vus", "vus": 3, "duration": "1s"}, 3, _spec("per-iteration", 8),
     [(0, "0, 3, 6", 3), (1, "1, 4, 7", 3), (2, "2, 5", 2)]),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "actors", "spec", "want"), SLICES)
def test_slices_per_actor(
    raw: dict[str, Any], actors: int, spec: DataSpec, want: list[tuple[int, str, int]]
) -> None:
    got = _slices(raw, actors, spec)
    assert got == want
    if spec["on_exhausted"] == "stop":  # no row is in two actors' slices
        counts = [c for _, _, c in got]
        assert sum(counts) <= spec["rows"]


def _use(used: int, uses: int, exhausted: bool, on: str = "stop") -> DataUse:
    return {"path": "/d.csv", "split": "per-iteration", "on_exhausted": on, "rows": 10,
            "used": used, "uses": uses, "exhausted": exhausted}  # fmt: skip


def test_merge_usage_adds_the_actors_and_caps_at_the_rows() -> None:
    merged = merge_usage({0: {"d": _use(4, 4, False)}, 1: {"d": _use(3, 3, True)}})
    assert merged == [
        {"name": "d", "path": "/d.csv", "split": "per-iteration", "on_exhausted": "stop",
         "rows": 10, "rows_used": 7, "uses": 7, "exhausted": True}
    ]  # fmt: skip
    assert usage_line(merged[0]) == (
        "data d: 7 of 10 rows used (per-iteration), exhausted (stopped)"
    )
    cycled = merge_usage(
        {0: {"d": _use(10, 14, True, "cycle")}, 1: {"d": _use(6, 6, True, "cycle")}}
    )
    assert cycled[0]["rows_used"] == 10 and cycled[0]["uses"] == 20
    assert usage_line(cycled[0]).endswith("exhausted (wrapped round)")
    assert merge_usage({}) == []
