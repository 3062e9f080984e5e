"""The run's outcome, decided once: what happened -> the exit code and the reasons.

Pure. Every way a run can end (thresholds, abortOnFail, a stop signal, lost or cut-short
actors, a paused driver, saturated generators, outputs that could not be written) is a
fact here, and ``decide`` is the only place that turns facts into an exit code. The
summary JSON carries the result (``veza_ray.outcome``) and the text summary, the live view
and every report read it instead of working the code out again.

A closed stdout or stderr (``| head -1``, a closed terminal) is a note, never a code: the
reader chose to leave, and the verdict is what the run measured.

Precedence: a stop signal (105) wins, as in k6, whose run/abort error is kept over the
thresholds' ("Crossed thresholds, but test already exited with another error", k6
cmd/run.go); then a crossed threshold (99), then undelivered load (103), then saturated
generators (112), then a regression against the baseline (114, ``run --baseline``),
then a lost output (113): an output the user asked for that could not
be written whole turns a pass into a failure, and never hides a verdict on the load (k6
only logs such an error; docs/security.md, "Outputs", says why veza-ray does not).
Every reason that applies is listed whatever the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from veza_ray.core import exitcodes


@dataclass(frozen=True)
class ActorCutShort:
    """An actor whose VUs stopped before the plan's end without being asked to."""

    actor: int
    address: str
    why: str  # "lost: <error>", "lease expired", "crashed: <error>"
    at_s: float  # seconds into the run


@dataclass(frozen=True)
class RunFacts:
    """What happened in a run, as plain data; the input of ``decide``."""

    crossed: tuple[str, ...] = ()  # "metric_key expression (measured ...)" per crossed threshold
    aborted_on_fail: bool = False
    stop_signal: str = ""  # "SIGINT" / "SIGTERM" / "SIGHUP" when the user stopped the run
    stop_phase: str = ""  # "while Ray started"...: the signal came before any VU started
    cut_short: tuple[ActorCutShort, ...] = ()
    undelivered_vu_seconds: float = 0.0
    undelivered_iterations: int = 0
    driver_failure: str = ""  # the driver's own loop broke mid-run
    driver_pauses: tuple[tuple[float, float], ...] = ()  # (at_s, seconds) gaps in the driver
    saturated: tuple[str, ...] = ()  # "actor 3 on 10.0.0.2 (lag p99 ... in 40 % of the run)"
    allow_saturated: bool = False
    output_failures: tuple[str, ...] = ()  # outputs nobody asked for by flag: notes only
    outputs_lost: tuple[str, ...] = ()  # "--html r.html: No space left ...; 0 of N bytes"
    allow_output_loss: bool = False
    series_note: str = ""  # tag sets folded past the per-metric limit (core/cardinality.py)
    requests: int = 0
    planned_s: float = 0.0
    ran_s: float = 0.0
    teardown_failure: tuple[int, str] | None = None  # (107 or 101, why) as k6 exits
    script_aborted: str = ""  # k6/execution test.abort()'s reason: k6's ScriptAborted (108)
    # run --baseline / --history (core/compare.py, veza_ray/history/): worse rows, and
    # what could not be compared or recorded (a note: the history never changes a verdict)
    regressions: tuple[str, ...] = ()
    regression_warn_only: bool = False
    history_notes: tuple[str, ...] = ()
    streams_lost: tuple[str, ...] = ()  # "stdout was closed by its reader ..." (a note only)


class OutcomeWire(TypedDict):
    code: int
    status: str
    reasons: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Outcome:
    """The exit code, why (reasons that set or back it) and notes that did not change it."""

    code: int
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.code == exitcodes.OK

    @property
    def status(self) -> str:
        return "PASS" if self.ok else "FAIL"

    def to_wire(self) -> OutcomeWire:
        return {
            "code": self.code,
            "status": self.status,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }

    @classmethod
    def from_wire(cls, data: Any) -> Outcome | None:
        """The outcome saved in a summary, or None for an older summary without one."""
        if not isinstance(data, dict) or not isinstance(data.get("code"), int):
            return None
        reasons = tuple(str(r) for r in data.get("reasons") or ())
        notes = tuple(str(n) for n in data.get("notes") or ())
        return cls(int(data["code"]), reasons, notes)


def decide(f: RunFacts) -> Outcome:
    """The one decision: exit code by the precedence above, with every reason that applies."""
    reasons: list[str] = []
    notes: list[str] = []
    codes: list[int] = []
    if f.crossed:
        codes.append(exitcodes.THRESHOLDS_FAILED)
        reasons += [f"threshold crossed: {c}" for c in f.crossed]
        if f.aborted_on_fail:
            reasons.append("the run was stopped early by abortOnFail")
    if f.stop_signal:
        codes.append(exitcodes.EXTERNAL_ABORT)
        reasons.append(
            f"stopped by {f.stop_signal} {f.stop_phase}, before any VU started; no load was sent"
            if f.stop_phase
            else f"stopped by {f.stop_signal} after {f.ran_s:.1f} s of {f.planned_s:.1f} s planned"
        )
    undelivered = bool(f.cut_short or f.driver_failure) or f.undelivered_vu_seconds > 0.05
    undelivered = undelivered or f.undelivered_iterations > 0
    if undelivered:
        codes.append(exitcodes.LOST_LOAD)
        if f.driver_failure:
            reasons.append(f"the driver failed mid-run ({f.driver_failure})")
        for c in f.cut_short:
            reasons.append(f"actor {c.actor} on {c.address} stopped at {c.at_s:.1f} s: {c.why}")
        parts = []
        if f.undelivered_vu_seconds > 0.05:
            parts.append(f"{f.undelivered_vu_seconds:.0f} VU-seconds")
        if f.undelivered_iterations:
            parts.append(f"{f.undelivered_iterations} iterations")
        if parts:
            reasons.append(" and ".join(parts) + " planned but not delivered")
    for at, gap in f.driver_pauses:
        text = f"the driver was paused or unreachable for {gap:.1f} s at {at:.1f} s"
        (reasons if undelivered else notes).append(
            text + ("" if undelivered else "; every actor carried on")
        )
    if f.saturated:
        what = (
            "load generators saturated: they could not run the plan on time, so less load "
            "was offered than planned: " + "; ".join(f.saturated)
        )
        if f.allow_saturated:
            notes.append(what + " (allowed by --allow-saturated)")
        else:
            codes.append(exitcodes.GENERATOR_SATURATED)
            reasons.append(what)
    for failure in f.output_failures:
        notes.append(f"output not written: {failure}")
    for worse in f.regressions:
        if f.regression_warn_only:
            notes.append(f"worse than the baseline (--baseline-warn-only): {worse}")
        else:
            codes.append(exitcodes.BASELINE_REGRESSION)
            reasons.append(f"worse than the baseline: {worse}")
    for lost in f.outputs_lost:
        if f.allow_output_loss:
            notes.append(f"output lost: {lost} (allowed by --allow-output-loss)")
        else:
            codes.append(exitcodes.OUTPUT_LOST)
            reasons.append(f"output lost: {lost}")
    if f.series_note:
        notes.append(f.series_note)
    if f.script_aborted:
        codes.append(exitcodes.SCRIPT_ABORTED)
        reasons.append(f"the script stopped the test: {f.script_aborted}")
    if f.teardown_failure:
        codes.append(f.teardown_failure[0])
        reasons.append(f.teardown_failure[1])
    notes.extend(f.history_notes)
    for lost in f.streams_lost:  # the reader's choice (| head): never the verdict's
        notes.append(f"{lost}: what was written to it after that was dropped")
    if not codes and f.requests == 0 and f.planned_s > 0 and not f.stop_signal:
        notes.append("no HTTP request was made")
    code = min(codes, key=_PRECEDENCE.index) if codes else exitcodes.OK
    return Outcome(code, tuple(reasons), tuple(notes))


_PRECEDENCE = [
    exitcodes.SCRIPT_ABORTED,  # test.abort() (108, as k6)
    exitcodes.EXTERNAL_ABORT,
    exitcodes.THRESHOLDS_FAILED,
    exitcodes.LOST_LOAD,
    exitcodes.GENERATOR_SATURATED,
    exitcodes.BASELINE_REGRESSION,
    exitcodes.OUTPUT_LOST,
    exitcodes.SCRIPT_ERROR,
    exitcodes.TEARDOWN_TIMEOUT,
]


def after_local_outputs(code: int, lost: list[str], allow: bool) -> int:
    """The exit code once a run's files were written on another machine (``submit``):
    the run's own code, or 113 in place of a pass when one of them was lost here."""
    if lost and not allow and code == exitcodes.OK:
        return exitcodes.OUTPUT_LOST
    return code


def outcome_line(o: Outcome) -> str:
    """One line for the terminal: the verdict, the code and the first reason."""
    head = f"veza-ray: {o.status} (exit {o.code})"
    return head + (f": {o.reasons[0]}" if o.reasons else "")
