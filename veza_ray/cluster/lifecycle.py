"""The driver's side of setup() and teardown(): once per test, whatever the actor count.

setup() runs after the pre-flight check, before Ray is reached or any actor placed: a
failure stops the test with k6's code before any VU exists and starts no cluster. Its
JSON data travels with every actor's arguments, so a replacement actor gets it too.
teardown() runs after the last pull, after an abort or a signal as well, with the same
data. Their samples join the run's totals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from veza_ray.engine.lifecycle import PartResult, run_part

if TYPE_CHECKING:
    from veza_ray.core.merge import MergedRun
    from veza_ray.core.options import Options
    from veza_ray.engine.scenario import LoadedScript


class Prepared(Protocol):
    """What these steps read of the driver's prepared run (cluster/driver.Prepared)."""

    script: LoadedScript
    options: Options
    env: dict[str, str]
    setup_data: str | None


def run_setup(prep: Prepared, err: Callable[[str], None]) -> PartResult:
    """Run setup() (if any) and keep its data on ``prep``; the caller turns a failed
    result (``code``) into the run's refusal."""
    result = run_part(prep.script, prep.options, prep.env, "setup")
    if result.code:
        return result
    if result.ran:
        size = len(result.data or "")
        err(f"veza-ray: setup() ran once; its data ({size} bytes of JSON) goes to every VU")
    prep.setup_data = result.data
    return result


def script_abort(state: MergedRun) -> str:
    """The reason of the first actor stopped by ``execution.test.abort()``, or ""."""
    for end in state.ends.values():
        if end["reason"].startswith("test.abort"):
            return end["reason"]
    return ""


def run_teardown(prep: Prepared, state: MergedRun, err: Callable[[str], None]) -> PartResult:
    """Run teardown() (if any) with setup's data; its samples join the totals."""
    result = run_part(prep.script, prep.options, prep.env, "teardown", prep.setup_data)
    state.total.merge_wire(result.series)
    if result.code:
        err(f"veza-ray: {result.error}")
    return result
