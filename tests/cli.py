"""The one way tests launch the ``veza-ray`` CLI: as a user would, in a subprocess.

``cli_argv`` is the command line (this Python, ``-m veza_ray.cli``, so the tree under test
runs whatever is on PATH); ``run_cli`` runs it to the end capturing text; ``start_cli``
starts it for a test that signals it or watches it. ``env`` is merged over this
process's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

CLI = (sys.executable, "-m", "veza_ray.cli")


def cli_argv(*args: str) -> list[str]:
    """``veza-ray ARGS`` as an argv for this Python."""
    return [*CLI, *args]


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``veza-ray ARGS`` to the end (bounded), capturing its text output."""
    return subprocess.run(
        cli_argv(*args),
        capture_output=True,
        text=True,
        env=_env(env),
        timeout=timeout,
        check=False,
        **kwargs,
    )


def start_cli(
    *args: str, env: Mapping[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """Start ``veza-ray ARGS``; stdout and stderr are pipes unless given."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(cli_argv(*args), text=True, env=_env(env), **kwargs)
