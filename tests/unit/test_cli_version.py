"""`veza-ray version` and `veza-ray --version` name what a bug report needs, as `k6 version`."""

from __future__ import annotations

import platform
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from veza_ray import __version__
from veza_ray.cli import app


@pytest.mark.parametrize("argv", [["version"], ["--version"]])
def test_version_names_veza_ray_ray_python_and_llhttp(argv: list[str]) -> None:
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    line = res.output.strip()
    assert "\n" not in line
    assert line.startswith(f"veza-ray v{__version__} (")
    assert f"ray {version('ray')}," in line
    assert f"python {platform.python_version()}," in line
    assert f"llhttp via httptools {version('httptools')}," in line


def test_version_flag_wins_over_a_command() -> None:
    res = CliRunner().invoke(app, ["--version", "run", "missing.py"])
    assert res.exit_code == 0
    assert res.output.startswith("veza-ray v")
