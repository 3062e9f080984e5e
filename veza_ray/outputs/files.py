"""Writing an output file whole or saying how much of it was lost.

Every end-of-run file (the summary, HTML, JUnit, Markdown, handle_summary's files, the
files a Ray job brought back) goes through ``write_file``: a regular file is written to a
temporary name beside it and renamed over the target, so a full disk or a vanished
directory leaves the old file (or none) and never a truncated one; a device or a pipe
(``/dev/null``, ``/dev/full``, a FIFO) is written in place, since renaming over it would
replace the device itself. A failure is returned as one line naming the output, the
reason and the bytes lost, which the run's outcome reports (exit 113, docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Mapping
from typing import Any

from veza_ray.core.output_kinds import END, OUTPUTS
from veza_ray.outputs.base import load_impl


def write_file(label: str, path: str, data: bytes) -> str | None:
    """Write ``data`` at ``path``; None when all of it landed, else what was lost."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if mode and not stat.S_ISREG(mode):
        return _write_in_place(label, path, data)
    parent = os.path.dirname(path) or "."
    tmp = os.path.join(parent, f".{os.path.basename(path)}.part-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return lost_line(label, exc, 0, len(data))
    return None


def _write_in_place(label: str, path: str, data: bytes) -> str | None:
    done = 0
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
        finally:
            os.close(fd)
    except OSError as exc:
        return lost_line(label, exc, done, len(data))
    return None


def lost_line(label: str, exc: OSError, written: int, total: int) -> str:
    """``--html r.html: No space left on device; 0 of 48213 bytes written``."""
    why = exc.strerror or str(exc)
    return f"{label}: {why}; {written} of {total} bytes written"


def write_end_outputs(
    summary: Mapping[str, Any],
    targets: Mapping[str, str],
    out: Callable[[str], None],
    skip_stdout: bool = False,
) -> dict[str, str]:
    """Render and write every end-of-run output in ``targets`` (kind -> path, or '-' for
    standard output where the table allows it); kind -> what was lost, for each failure.

    ``summary`` must already be redacted: secrets are redacted once, where the summary is
    made (the driver's ``_conclude``, after teardown, when the book knows every secret
    of the run; ``reports.command.write_reports`` for a summary read from a file or
    handed in by a caller). Redacting again here would only repeat that work on every
    output. The data is redacted, never the rendered text: redacting rendered JSON or
    HTML could cut through an escape sequence and leave a file no parser reads.
    """
    lost: dict[str, str] = {}
    for o in OUTPUTS:
        target = targets.get(o.kind)
        if o.phase != END or not target:
            continue
        if o.stdout_ok and target == "-":
            if not skip_stdout:
                out(load_impl(o.impl)(summary))
            continue
        text: str = load_impl(o.impl)(summary)
        failure = write_file(o.label(target), target, text.encode())
        if failure:
            lost[o.kind] = failure
    return lost
