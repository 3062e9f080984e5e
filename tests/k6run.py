"""The one way tests set up a comparison with real k6: the k6 script and its conversion,
each tool's command line (k6 with its usual quiet flags, veza-ray through tests/cli.py's
``cli_argv``, either with ``--summary-export``), and a bounded run of one of them.

Each comparing module (tests/e2e/*_k6*.py and friends, tests/differential,
tests/conformance) starts its own target around ``run_tool``: what a target counts is
the module's business, as are its assertions.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cli import cli_argv, run_cli
from requires import find_k6

# What every k6 run here says: no usage report to Grafana, no banner or progress bar.
K6_FLAGS = ("--no-usage-report", "--quiet")
TIMEOUT_S = 300  # one tool's run of one comparison, start to end


def convert(tmp_path: Path, name: str, source: str) -> tuple[Path, Path]:
    """Write the k6 script ``NAME.js`` and convert it with ``veza-ray convert`` into
    ``NAME.py`` (a failed conversion fails the test with its stderr): (js, py)."""
    js, py = tmp_path / f"{name}.js", tmp_path / f"{name}.py"
    js.write_text(source)
    conv = run_cli("convert", str(js), "-o", str(py), cwd=tmp_path)
    assert conv.returncode == 0, conv.stderr
    return js, py


def k6_argv(k6: str, js: Path, *flags: str, summary: Path | None = None) -> list[str]:
    """``k6 run --no-usage-report --quiet [FLAGS] [--summary-export S] JS``."""
    export = ["--summary-export", str(summary)] if summary else []
    return [k6, "run", *K6_FLAGS, *flags, *export, str(js)]


def veza_argv(py: Path, actors: int, *flags: str, summary: Path | None = None) -> list[str]:
    """``veza-ray run PY --actors N [FLAGS] [--summary-export S]``."""
    export = ["--summary-export", str(summary)] if summary else []
    return cli_argv("run", str(py), "--actors", str(actors), *flags, *export)


def both(js: Path, py: Path, actors: int, *veza_flags: str) -> dict[str, list[str]]:
    """Each tool's command for one comparison: the converted script on veza-ray, and the
    original on real k6 when k6 is installed (else veza-ray's run is checked alone)."""
    tools = {"veza-ray": veza_argv(py, actors, *veza_flags)}
    k6 = find_k6()
    if k6 is not None:
        tools["k6"] = k6_argv(k6, js)
    return tools


def run_tool(
    cmd: list[str],
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Run one tool's command (plus ``args``: ``-e`` values naming the target) to its end,
    bounded, capturing its text; ``env`` is merged over this process's environment."""
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def env_args(values: Mapping[str, str]) -> list[str]:
    """``-e NAME=VALUE`` for each of ``values``, in order."""
    return [a for k, v in values.items() for a in ("-e", f"{k}={v}")]
