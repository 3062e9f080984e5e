"""``--tag NAME=VALUE``: parsed, refused when malformed, and replacing the script's tags."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import veza, write_script

from veza_ray.core.options import parse_options
from veza_ray.core.runconfig import ConfigError, parse_tags


def test_parse_tags_last_wins() -> None:
    assert parse_tags(["a=1", "b=x=y", "a=2", "c="]) == {"a": "2", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["nameonly", "=value", " =v"])
def test_a_malformed_tag_is_named(bad: str) -> None:
    with pytest.raises(ConfigError, match="--tag"):
        parse_tags([bad])


def test_run_tags_replace_the_scripts_tags_as_k6() -> None:
    options = parse_options({"tags": {"team": "script", "env": "ci"}})
    assert options.with_run_tags({}).tags == (("env", "ci"), ("team", "script"))
    assert options.with_run_tags({"team": "data"}).tags == (("team", "data"),)


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
