"""What ``run --history/--baseline`` adds at the end of a run: compare against the
baseline, decide the outcome, record the run, show the recent history.

The history can never lose a run or change its verdict: a baseline that cannot be read
and a database that is locked, corrupt or read-only each become a note in the outcome,
and the summary is written as ever. Only a regression against a baseline that was read
changes the code (114, decided in core/outcome.py), unless ``--baseline-warn-only``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from veza_ray.core.compare import CompareSettings, compare, regression_reasons, run_data
from veza_ray.core.history import HistoryOptions, accept, record_from_summary
from veza_ray.core.outcome import Outcome, RunFacts, decide
from veza_ray.history.store import History, HistoryError
from veza_ray.history.trend import recent_runs


def load_baseline(
    spec: str, path: str | None, script: str, options_hash: str | None
) -> dict[str, Any]:
    """The baseline's comparison data: ``last-green``, a run id, or a summary file.
    ValueError says why there is none."""
    if spec == "last-green" or spec.isdigit():
        if not path:
            raise ValueError(f"--baseline {spec} needs --history")
        if not os.path.exists(path):
            raise ValueError(f"history {path} does not exist yet")
        try:
            with History(path, readonly=True) as h:
                if spec == "last-green":
                    run = h.last_green(script, options_hash)
                    if run is None:
                        raise ValueError(
                            f"no green run of {script} with options hash {options_hash} "
                            f"in {path} yet"
                        )
                else:
                    run = h.get(int(spec))
                    if run is None:
                        raise ValueError(f"no run #{spec} in {path}")
        except HistoryError as exc:
            raise ValueError(str(exc)) from exc
        data = dict(run["data"])
        data["label"] = f"run #{run['id']} ({run['day']})"
        return data
    try:
        with open(spec, "rb") as fh:
            summary = orjson.loads(fh.read())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"baseline {spec}: {exc}") from exc
    if not isinstance(summary, Mapping):
        raise ValueError(f"baseline {spec}: not a summary JSON object")
    return run_data(summary, label=spec)


def finish(
    opts: HistoryOptions,
    summary: dict[str, Any],
    facts: RunFacts,
    err: Callable[[str], None],
    redact: Callable[[Any], Any] = lambda x: x,
) -> tuple[Outcome, RunFacts]:
    """Compare, decide, record; the summary gets ``comparison``, ``outcome``, ``history``.
    Returns the outcome and the facts it was decided on (the driver decides again with
    them if an output is then lost, so a regression is never forgotten)."""
    vr = summary["veza_ray"]
    ident = vr.get("identity") or {}
    notes: list[str] = []
    if opts.baseline:
        try:
            base = load_baseline(
                opts.baseline, opts.path, ident.get("script", ""), ident.get("options_hash")
            )
        except ValueError as exc:
            notes.append(f"baseline not compared: {exc}")
        else:
            result = compare(base, run_data(summary, "this run"), CompareSettings(opts.floor))
            vr["comparison"] = result
            facts = replace(
                facts,
                regressions=regression_reasons(result),
                regression_warn_only=opts.warn_only,
            )
    facts = replace(facts, history_notes=(*facts.history_notes, *notes))
    outcome = decide(facts)
    vr["outcome"] = outcome.to_wire()
    if opts.path:
        problem = _record(opts, summary, redact)
        if problem:
            err(f"veza-ray: {problem}")
            facts = replace(facts, history_notes=(*facts.history_notes, problem))
            outcome = decide(facts)
            vr["outcome"] = outcome.to_wire()
    return outcome, facts


def _record(opts: HistoryOptions, summary: dict[str, Any], redact: Callable[[Any], Any]) -> str:
    """Add the run to the history and put the recent runs in the summary; '' or why not."""
    assert opts.path
    vr = summary["veza_ray"]
    try:
        record = redact(record_from_summary(summary, "run"))  # no secret reaches the file
        with History(opts.path) as h:
            run_id, _ = h.add(record)
            script = record["script"]
            chain = accept(h.chain_rows(script), 3, record["options_hash"])
            recent = recent_runs(h, script, record["options_hash"], opts.recent_runs)
    except HistoryError as exc:
        return f"run not recorded in the history: {exc}"
    except (OSError, ValueError) as exc:
        return f"run not recorded in the history {opts.path}: {exc}"
    vr["history"] = {
        "path": opts.path,
        "run_id": run_id,
        "runs": recent,
        "acceptance": {
            "nights": 3,
            "accepted": chain.accepted,
            "line": chain.line,
            "chain": [{"day": d, "green": g} for d, g in chain.nights],
        },
    }
    return ""
