"""The ``convert`` command's I/O: read the k6 script, write the scenario, say what is left."""

from __future__ import annotations

import os
from collections.abc import Callable

from veza_ray.convert import ConvertRefused, convert_source
from veza_ray.core import exitcodes


def default_output(script: str) -> str:
    base, _ = os.path.splitext(script)
    return base + ".py"


def convert_file(
    script: str, output: str | None, allow_partial: bool, say: Callable[[str], None]
) -> int:
    """Convert ``script`` to ``output``; the exit code (0, 107 refused, 116 partial)."""
    try:
        with open(script, encoding="utf-8") as fh:
            source = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        say(f"veza-ray: cannot read {script!r}: {exc}")
        return exitcodes.SCRIPT_ERROR
    try:
        result = convert_source(source, script)
    except ConvertRefused as exc:
        say(f"veza-ray: {script}: not converted: {exc}")
        return exitcodes.SCRIPT_ERROR
    target = output or default_output(script)
    if os.path.abspath(target) == os.path.abspath(script):
        say(f"veza-ray: -o {target!r} would overwrite the k6 script")
        return exitcodes.INVALID_CONFIG
    try:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(result.python)
    except OSError as exc:
        say(f"veza-ray: cannot write {target!r}: {exc.strerror}")
        return exitcodes.INVALID_CONFIG
    if not result.todos:
        say(f"converted {script} -> {target}: no TODO left; check it with `veza-ray inspect`")
        return 0
    say(f"converted {script} -> {target} with {len(result.todos)} TODO(s):")
    for t in result.todos:
        say(f"  {target}:{t.py_line} (k6 line {t.js_line}): {t.why}: {t.js[:60]}")
    if allow_partial:
        return 0
    say("  exit 116: finish the TODOs by hand, or accept them with --allow-partial")
    return exitcodes.CONVERT_PARTIAL
