"""Outputs that would overwrite an input of the run, or each other: found before the run.

A path is compared by what it resolves to (symlinks, ``./x`` and ``x``, ``..``) and, when
the file exists, by its inode (a hard link is the same file). Devices, pipes and sockets
(``/dev/null``, ``/dev/stdout``) are not files that could be overwritten and never collide.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence


def file_key(path: str) -> tuple[object, ...] | None:
    """What identifies the file ``path`` names; None for a device, pipe or socket."""
    try:
        real = os.path.realpath(path)
    except OSError:  # a relative path and a working directory that is gone
        return ("path", os.path.normpath(path))
    try:
        st = os.stat(real)
    except OSError:
        return ("path", real)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    return ("inode", st.st_dev, st.st_ino)


def collisions(outputs: Sequence[tuple[str, str]], inputs: Sequence[tuple[str, str]]) -> list[str]:
    """One line per output that resolves to an input, or to an earlier output.

    ``outputs`` and ``inputs`` are (label, path): ``("--html", "r.html")``,
    ``("the scenario file", "s.py")``.
    """
    seen: dict[tuple[object, ...], str] = {}
    for label, path in inputs:
        key = file_key(path)
        if key is not None:
            seen.setdefault(key, f"{label} {path!r}")
    errors = []
    for label, path in outputs:
        key = file_key(path)
        if key is None:
            continue
        if key in seen:
            errors.append(f"{label} would overwrite {seen[key]} (the same file)")
        else:
            seen[key] = f"the output of {label}"
    return errors
