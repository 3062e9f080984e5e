"""``veza-ray report``: the run's reports from a saved summary JSON, and the writer both
``run`` and ``report`` use, so a report rendered after the run is the one the run would
have written."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from veza_ray.core import exitcodes
from veza_ray.core.guards import SECRETS
from veza_ray.reports import render_html, render_junit, render_markdown

STDOUT = "-"


def write_reports(
    summary: Mapping[str, Any],
    html: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
    out: Callable[[str], None] | None = None,
) -> list[str]:
    """Write each requested output; ``markdown="-"`` goes to ``out`` (stdout by default).

    Returns the paths written. Raises OSError when a path cannot be written.
    """
    written: list[str] = []
    # Every report is redacted as it is written, like every other output: the summary
    # was already, but the book may know more now (and ``report`` reads any file).
    for path, render in ((html, render_html), (junit, render_junit)):
        if path:
            _write(path, SECRETS.redact(render(summary)))
            written.append(path)
    if markdown:
        text = SECRETS.redact(render_markdown(summary))
        if markdown == STDOUT:
            (out or _print)(text)
        else:
            _write(markdown, text)
            written.append(markdown)
    return written


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _write(path: str, text: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def load_summary(path: str) -> dict[str, Any]:
    """Read a summary JSON; ValueError with the reason when it is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"{path} is not a k6/veza-ray summary (no 'metrics' object)")
    return data


def report(
    summary_path: str,
    html: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
) -> int:
    """Render a saved summary; with no output named, the Markdown goes to stdout.

    Returns 0 when everything was written, 104 (k6's InvalidConfig: a bad argument) when
    the summary cannot be read or an output cannot be written. The run's own verdict is
    not the exit code: the run already reported it, and a CI step that renders after a
    failed run must not fail a second time for the same reason.
    """
    SECRETS.add_env(os.environ)  # the secrets this environment holds, as for run
    try:
        summary = load_summary(summary_path)
    except ValueError as exc:
        print(SECRETS.redact(f"veza-ray: {exc}"), file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    if not (html or junit or markdown):
        markdown = STDOUT
    try:
        write_reports(summary, html=html, junit=junit, markdown=markdown)
    except OSError as exc:
        print(f"veza-ray: cannot write a report: {exc}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    return exitcodes.OK
