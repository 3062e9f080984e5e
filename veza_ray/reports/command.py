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
from veza_ray.core.overlap import collisions
from veza_ray.outputs.files import write_end_outputs

STDOUT = "-"


def write_reports(
    summary: Mapping[str, Any],
    html: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
    out: Callable[[str], None] | None = None,
) -> list[str]:
    """Write each requested report (``outputs.files``, from the output table);
    ``markdown="-"`` goes to ``out`` (stdout by default).

    ``summary`` comes from outside the run (a saved file, a caller of this API), so it is
    redacted here, once, with every secret this process knows (``report`` adds its own
    environment's first), before anything is rendered from it.

    Returns the paths written. Raises OSError naming what was lost when one cannot be.
    """
    targets = {k: v for k, v in (("html", html), ("junit", junit), ("markdown", markdown)) if v}
    for path in targets.values():
        parent = os.path.dirname(path)
        if path != STDOUT and parent:
            os.makedirs(parent, exist_ok=True)
    lost = write_end_outputs(SECRETS.redact_obj(summary), targets, out or _print)
    if lost:
        raise OSError("; ".join(lost.values()))
    return [p for p in targets.values() if p != STDOUT]


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


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
    clash = collisions(
        [
            (f, p)
            for f, p in (("--html", html), ("--junit", junit), ("--markdown", markdown))
            if p and p != STDOUT
        ],
        [("the summary", summary_path)],
    )
    if clash:
        print(f"veza-ray: {'; '.join(clash)}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    try:
        write_reports(summary, html=html, junit=junit, markdown=markdown)
    except OSError as exc:
        print(f"veza-ray: cannot write a report: {exc}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    return exitcodes.OK
