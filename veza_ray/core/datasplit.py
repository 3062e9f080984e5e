"""Which rows of a data file each VU and each actor gets: the split of ``DataFile``.

A data file is cut with the same execution-segment arithmetic as the VUs and iterations,
so no actor needs to ask another which rows are left:

- ``per-vu``: the scenario's ``v``-th VU of the whole cluster (from 0; the plan hands
  each actor a contiguous range of them, core/iteration_ids.py ``vu_offset``) uses row
  ``v`` in every iteration, so an actor's rows are one contiguous range.
- ``per-iteration``: the iteration numbered ``i`` (k6's ``scenario.iterationInTest``) uses
  row ``i``. The numbers are striped over the actors (core/iteration_ids.py), so each row
  goes to exactly one iteration of the whole cluster.

A VU or an iteration past the last row is *exhausted*: with ``stop`` it gets no row (the
runner ends the VU, or the scenario on that actor); with ``cycle`` it wraps to the start.
Pure: the engine reads the file (engine/data.py), this module only counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from veza_ray.core.segments import Stripe

SPLITS = ("per-vu", "per-iteration")
ON_EXHAUSTED = ("stop", "cycle")


class DataUse(TypedDict):
    """What one actor reports about one data file (cumulative, at each pull)."""

    path: str
    split: str
    on_exhausted: str
    rows: int
    used: int  # distinct rows this actor handed out
    uses: int  # rows handed out in all (a per-vu row is used once per iteration)
    exhausted: bool  # a VU or an iteration found no row left


def mode_problems(split: str, on_exhausted: str) -> list[str]:
    """What is wrong with a DataFile's two choices, in words naming the bad one."""
    out = []
    if split not in SPLITS:
        out.append(f"split={split!r}: choose one of {', '.join(SPLITS)}")
    if on_exhausted not in ON_EXHAUSTED:
        out.append(f"on_exhausted={on_exhausted!r}: choose one of {', '.join(ON_EXHAUSTED)}")
    return out


def pick_row(
    split: str, on_exhausted: str, rows: int, vu_index: int, iteration_in_test: int
) -> int | None:
    """The row index for this VU (its place in its scenario, cluster-wide, from 0) and
    iteration; None when exhausted under ``stop``."""
    index = vu_index if split == "per-vu" else iteration_in_test
    if rows <= 0 or index < 0:
        return None
    if index < rows:
        return index
    return index % rows if on_exhausted == "cycle" else None


def ranges(indices: Iterable[int]) -> str:
    """ "0-6, 9, 12-13": sorted indices as ranges (how inspect prints a slice)."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(indices)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(_run_text(run))
        run = [i]
    if run:
        out.append(_run_text(run))
    return ", ".join(out) if out else "none"


def _run_text(run: Sequence[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"


def vu_rows(offset: int, max_vus: int, rows: int, on_exhausted: str) -> list[int]:
    """Rows the scenario's VUs ``offset .. offset + max_vus - 1`` use (per-vu)."""
    ids = range(offset, offset + max_vus)
    picked = (pick_row("per-vu", on_exhausted, rows, v, 0) for v in ids)
    return [r for r in picked if r is not None]


def iteration_rows(stripe: Stripe, planned: int | None, rows: int, on_exhausted: str) -> list[int]:
    """Rows the iterations of ``stripe`` use (per-iteration): the first ``planned``
    of them, or, where time decides the count, those up to the file's end."""
    out: list[int] = []
    if not stripe.residues or rows <= 0:
        return out
    count = planned if planned is not None else stripe.count_below(rows)
    for k in range(count):
        row = pick_row("per-iteration", on_exhausted, rows, 0, stripe.nth(k))
        if row is None:
            break
        out.append(row)
    return out


def merge_usage(per_actor: Mapping[int, Mapping[str, DataUse]]) -> list[dict[str, Any]]:
    """The summary's ``veza_ray.data``: each file's rows used over all actors.

    Without ``cycle`` the actors' rows are disjoint, so the distinct counts add up; with
    it a row may come round on two actors, so the sum is capped at the file's rows.
    """
    files: dict[str, dict[str, Any]] = {}
    for uses in per_actor.values():
        for name, u in uses.items():
            f = files.setdefault(
                name,
                {
                    "name": name,
                    "path": u["path"],
                    "split": u["split"],
                    "on_exhausted": u["on_exhausted"],
                    "rows": u["rows"],
                    "rows_used": 0,
                    "uses": 0,
                    "exhausted": False,
                },
            )
            f["rows_used"] = min(f["rows"], f["rows_used"] + u["used"])
            f["uses"] += u["uses"]
            f["exhausted"] = f["exhausted"] or u["exhausted"]
    return [files[k] for k in sorted(files)]


def usage_line(f: Mapping[str, Any]) -> str:
    """One line for the end of run: what the file gave and whether it ran out."""
    state = "exhausted" if f["exhausted"] else "not exhausted"
    then = f" ({'wrapped round' if f['on_exhausted'] == 'cycle' else 'stopped'})"
    return (
        f"data {f['name']}: {f['rows_used']} of {f['rows']} rows used ({f['split']}), "
        f"{state}{then if f['exhausted'] else ''}"
    )


class DataSpec(TypedDict):
    """A data file as the plan sees it: what inspect needs to show each actor's slice."""

    name: str
    split: str
    on_exhausted: str
    rows: int
    scenario: str | None  # the scenario that reads it; None: any


def data_slices(
    specs: Sequence[DataSpec], options: Any, plan: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """Each data file's rows per actor (and scenario, for per-iteration), as inspect
    shows them: the same cut the runners make, computed from the plan alone."""
    from veza_ray.core.iteration_ids import iteration_stripe, vu_offset

    configs = {sc.name: sc for sc in options.scenarios}
    out: list[dict[str, Any]] = []
    for spec in specs:
        per_actor: list[dict[str, Any]] = []
        for i, segs in enumerate(plan):
            for seg in segs:
                if spec["scenario"] not in (None, seg.scenario):
                    continue
                sc = configs[seg.scenario]
                if spec["split"] == "per-vu":
                    offset = vu_offset(sc, seg)
                    got = vu_rows(offset, seg.max_vus, spec["rows"], spec["on_exhausted"])
                else:
                    stripe = iteration_stripe(sc, seg)
                    planned = sc.planned_iterations(seg)
                    got = iteration_rows(stripe, planned, spec["rows"], spec["on_exhausted"])
                per_actor.append(
                    {"actor": i, "scenario": seg.scenario, "rows": ranges(got), "count": len(got)}
                )
        out.append({**spec, "slices": per_actor})
    return out
