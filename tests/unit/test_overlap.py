"""An output that resolves to an input of the run, or to another output, is found before
the run, whatever path spells it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veza_ray.core.overlap import collisions, file_key


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "s.py"
    path.write_text("options = {}\n")
    return path


def _inputs(script: Path) -> list[tuple[str, str]]:
    return [("the scenario file", str(script))]


def test_every_spelling_of_the_scenario_file_collides(
    script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.py"
    link.symlink_to(script)
    hard = tmp_path / "hard.py"
    os.link(script, hard)
    (tmp_path / "sub").mkdir()
    for spelling in ("s.py", "./s.py", "sub/../s.py", str(script), "link.py", "hard.py"):
        found = collisions([("--summary-export", spelling)], _inputs(script))
        assert len(found) == 1, spelling
        assert "--summary-export" in found[0] and str(script) in found[0]
    assert collisions([("--summary-export", "other.json")], _inputs(script)) == []


def test_two_outputs_on_one_path_collide_even_before_it_exists(tmp_path: Path) -> None:
    a, b = str(tmp_path / "r.out"), str(tmp_path / "." / "r.out")
    found = collisions([("--html r.out", a), ("--junit r.out", b)], [])
    assert found == ["--junit r.out would overwrite the output of --html r.out (the same file)"]
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "target.json")
    found = collisions([("--html", str(dangling)), ("--junit", str(tmp_path / "target.json"))], [])
    assert len(found) == 1


def test_devices_never_collide(script: Path) -> None:
    assert file_key("/dev/null") is None
    outs = [("--summary-export", "/dev/null"), ("--html", "/dev/null"), ("--junit", "/dev/full")]
    assert collisions(outs, _inputs(script)) == []


def test_a_file_the_script_reads_is_an_input(tmp_path: Path) -> None:
    data = tmp_path / "users.csv"
    data.write_text("a,b\n")
    inputs = [("a file the scenario reads with open()", str(data))]
    found = collisions([("--out json=users.csv", str(data))], inputs)
    assert found and "open()" in found[0] and "users.csv" in found[0]
