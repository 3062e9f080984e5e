"""``veza-ray inspect`` shows each actor's slice of every data file (core/inspect.py)."""

from __future__ import annotations

from pathlib import Path

from servers import veza, write_script

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


def test_inspect_command_reads_the_data_file(tmp_path: Path) -> None:
    (tmp_path / "people.jsonl").write_text("".join(f'{{"id": {i}}}\n' for i in range(7)))
    script = write_script(
        tmp_path,
        """
        from veza_ray import DataFile
        people = DataFile("people.jsonl", split="per-vu")
        options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 10, "duration": "1s"}}}
        async def default(vu):
            people.row()
        """,
    )
    proc = veza("inspect", script, "--actors", "3")
    assert proc.returncode == 0, proc.stderr
    assert "data people.jsonl: 7 rows, per-vu, on_exhausted=stop" in proc.stdout
    for line in (
        "actor 0 (s): rows 0-3 (4)",
        "actor 1 (s): rows 4-6 (3)",
        "actor 2 (s): rows none (0)",
    ):
        assert line in proc.stdout, proc.stdout
