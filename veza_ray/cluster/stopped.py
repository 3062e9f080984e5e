"""The summary of a run stopped (Ctrl-C, SIGTERM, SIGHUP) before any VU started.

Nothing was sent, but a CI step that reads ``--summary-export`` must find this run's
verdict (105 and why), not nothing or an older run's file. Only the summary JSON is
written: the scenario's handle_summary is not run (k6 does not run handleSummary for a
test interrupted in its init either), and the reports have nothing measured to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from veza_ray.core.guards import SECRETS
from veza_ray.core.metrics import MetricStore
from veza_ray.core.outcome import Outcome, RunFacts, decide
from veza_ray.core.summary import build_summary
from veza_ray.outputs.stdstreams import lost_streams

if TYPE_CHECKING:
    from veza_ray.core.options import Options
    from veza_ray.core.runconfig import RunConfig
    from veza_ray.engine.scenario import LoadedScript


class Prepared(Protocol):
    """What this reads of the driver's prepared run (cluster/driver.Prepared)."""

    script: LoadedScript
    options: Options
    trend_stats: Any


def stopped_before_start(
    prep: Prepared,
    cfg: RunConfig,
    signal_name: str,
    phase: str,
    say: Callable[[Outcome], None],
    err: Callable[[str], None],
) -> int:
    """Decide the outcome (105), write the summary where asked, say it; the exit code."""
    scenarios = prep.options.scenarios
    planned = max((sc.start_time + sc.run_duration for sc in scenarios), default=0.0)
    facts = RunFacts(
        stop_signal=signal_name,
        stop_phase=phase,
        planned_s=planned,
        streams_lost=lost_streams(),
    )
    outcome = decide(facts)
    if cfg.summary_export:
        extras = {
            "outcome": outcome.to_wire(),
            "scenarios": [sc.name for sc in scenarios],
            "delivery": {"planned_s": round(planned, 3), "ran_s": 0.0},
        }
        store = MetricStore(prep.script.all_metrics)
        summary = build_summary(store, [], prep.trend_stats, 0.0, False, extras)
        try:
            with open(cfg.summary_export, "wb") as fh:
                fh.write(orjson.dumps(SECRETS.redact_obj(summary), option=orjson.OPT_INDENT_2))
        except OSError as exc:
            err(f"veza-ray: could not write the summary to {cfg.summary_export}: {exc.strerror}")
    say(outcome)
    return outcome.code
