"""The CLI around test data and run tags: refusals before any load, inspect's slices.

Each runs the real ``veza-ray`` command; none reaches Ray or sends a request.
"""

from __future__ import annotations

from pathlib import Path

from servers import veza, write_script


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


def test_run_refuses_a_bad_tag_before_any_load(tmp_path: Path) -> None:
    script = write_script(tmp_path, "async def default(vu):\n    pass\n")
    proc = veza("run", script, "--tag", "oops")
    assert proc.returncode == 104, proc.stderr
    assert "--tag 'oops': write it as NAME=VALUE" in proc.stderr


def test_an_output_may_not_overwrite_a_data_file(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id\nu0\n")
    script = write_script(
        tmp_path,
        'from veza_ray import DataFile\nusers = DataFile("users.csv")\n'
        "async def default(vu):\n    users.row()\n",
    )
    proc = veza("run", script, "--summary-export", str(tmp_path / "users.csv"))
    assert proc.returncode == 104, proc.stderr
    assert "users.csv" in proc.stderr
    assert (tmp_path / "users.csv").read_text() == "id\nu0\n"
