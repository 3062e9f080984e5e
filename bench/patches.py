"""Candidate changes to veza-ray's request path, as monkeypatches (nothing under veza_ray/
is edited): ``python -m bench.vr_inproc SCRIPT --patch NAME`` measures one, and
``python -m bench profile`` measures each against the unpatched path, A B A B.

Every patch keeps every metric k6 reports (the same series, tags and values); each one's
docstring says what it changes and what the lead would edit in veza_ray/. Applied already
(kept for the record; no-ops on the current code): lean_request, check_cache and
iter_sinks (commit 35ebbe8), merge_fast, interval_lean and wire_200 (commit 8b1e493).
wire_bin went in as wire version 2 (fastdigest bytes, negotiated per pull, pickled): its
patch is a no-op now, kept so that bench/profile.py's list still runs.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

PATCHES: dict[str, Callable[[], None]] = {}
GC_THRESHOLD = tuple(
    int(x) for x in os.environ.get("BENCH_GC_THRESHOLD", "10000,20,100").split(",")
)


def patch(fn: Callable[[], None]) -> Callable[[], None]:
    PATCHES[fn.__name__] = fn
    return fn


def apply(names: list[str]) -> None:
    for name in names:
        for one in name.split("+"):
            if one not in PATCHES:
                raise SystemExit(f"unknown patch {one!r}; known: {', '.join(PATCHES)}")
            PATCHES[one]()


@patch
def gc_freeze() -> None:
    """Keep the cyclic GC off the VUs' long-lived objects. aiohttp allocates dozens of
    container objects per request, so generation-0 collections run hundreds of times a
    second, and every ~100th is a full collection that walks every live object: with
    10,000 VUs (a ClientSession, cookie jar, task and coroutine frames each) that was
    over half of the process's CPU. Change, in veza_ray/engine/runner.py: in ``Runner.run``,
    ``gc.set_threshold(50_000, 20, 100)`` (restore the old thresholds in its finally);
    in ``_run_vus`` (and wherever ``_new_vu`` builds VUs in bulk: ramping, arrival),
    ``gc.freeze()`` right after the VUs are built (O(1): it moves what is tracked into the
    permanent generation, which collections skip; ``gc.unfreeze()`` at the end of run)."""
    import veza_ray.engine.runner as r

    orig_run = r.Runner.run

    async def run(self: Any, start_at: float) -> None:
        old = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        gc.freeze()
        try:
            await orig_run(self, start_at)
        finally:
            gc.set_threshold(*old)
            gc.unfreeze()

    async def _run_vus(self: Any, s: Any, t0: float, count: int, more: Any, end: float) -> None:
        vus = [self._new_vu(s, i) for i in range(count)]
        gc.freeze()
        for vu in vus:
            self._spawn(s, self._vu_loop(s, vu, more, end))
        await self._finish(s, end)

    r.Runner.run = run  # type: ignore[method-assign]
    r.Runner._run_vus = _run_vus  # type: ignore[method-assign]


@patch
def plain_connector() -> None:
    """Kept as a no-op for old lists: it swapped the aiohttp path's connector, and that
    path is gone (docs/http-client.md)."""


@patch
def wire_bin() -> None:
    """Applied (wire version 2): centroids travel as fastdigest's ``to_bytes`` when the
    driver reads the actor's fastdigest release (``BINARY_FORMAT``), and the pull is
    pickled instead of JSON, so nothing is base64'd. Kept as a no-op for old lists."""


@patch
def delta_100() -> None:
    """Per-interval delta digests of 100 centroids instead of 200 (veza_ray.core.digest
    DELTA_MAX_CENTROIDS): half the centroids to serialise and parse each second."""
    import veza_ray.core.digest as dg
    import veza_ray.engine.runner as r

    dg.DELTA_MAX_CENTROIDS = 100  # type: ignore[misc]
    if hasattr(r, "DELTA_MAX_CENTROIDS"):
        r.DELTA_MAX_CENTROIDS = 100  # type: ignore[attr-defined]


# What is still proposed on top of the current veza_ray/ (the others went in: 35ebbe8
# took lean_request, check_cache and iter_sinks; 8b1e493 took merge_fast, interval_lean
# and wire_200).
ALL_PROPOSED = "gc_freeze"
