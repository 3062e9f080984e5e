"""The one outcome decision, as a table: facts in, exit code and reasons out."""

from __future__ import annotations

import pytest

from veza_ray.core import exitcodes
from veza_ray.core.outcome import ActorCutShort, Outcome, RunFacts, decide
from veza_ray.core.sizing import estimate_memory, memory_refusal, output_refusal, peak_vus

CUT = ActorCutShort(2, "10.0.0.2", "its lease expired", 9.5)

CASES = [
    ("clean run", RunFacts(requests=10, planned_s=10), 0, []),
    ("crossed", RunFacts(crossed=("http_req_duration p(95)<1",)), 99, ["threshold crossed"]),
    ("signal", RunFacts(stop_signal="SIGINT", ran_s=3, planned_s=10), 105, ["SIGINT"]),
    # k6 keeps the abort error over crossed thresholds (cmd/run.go): 105, both reasons listed.
    (
        "signal beats crossed",
        RunFacts(crossed=("x",), stop_signal="SIGTERM"),
        105,
        ["x", "SIGTERM"],
    ),
    ("cut short", RunFacts(cut_short=(CUT,), undelivered_vu_seconds=12.0), 103, ["lease"]),
    ("undelivered iterations", RunFacts(undelivered_iterations=4), 103, ["4 iterations"]),
    ("driver broke", RunFacts(driver_failure="OSError: x"), 103, ["driver failed"]),
    ("signal beats lost", RunFacts(stop_signal="SIGINT", cut_short=(CUT,)), 105, ["actor 2"]),
    ("saturated", RunFacts(saturated=("actor 0 on a",)), 112, ["saturated"]),
    ("saturated allowed", RunFacts(saturated=("actor 0 on a",), allow_saturated=True), 0, []),
    ("lost beats saturated", RunFacts(saturated=("a",), undelivered_iterations=1), 103, ["a"]),
    ("pause survived is a note", RunFacts(driver_pauses=((4.0, 3.2),)), 0, []),
    (
        "pause that cut actors is a reason",
        RunFacts(driver_pauses=((4.0, 7.0),), cut_short=(CUT,)),
        103,
        ["paused", "lease"],
    ),
]


@pytest.mark.parametrize(("name", "facts", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_decide(name: str, facts: RunFacts, code: int, words: list[str]) -> None:
    out = decide(facts)
    assert out.code == code, out
    text = " ".join(out.reasons)
    for w in words:
        assert w in text, (w, out.reasons)
    if code == 0:
        assert out.ok and out.status == "PASS" and not out.reasons
    else:
        assert out.reasons, "a failing outcome always says why"


def test_notes_do_not_change_the_code() -> None:
    out = decide(
        RunFacts(
            driver_pauses=((4.0, 3.2),),
            saturated=("actor 1",),
            allow_saturated=True,
            output_failures=("--out json=/x: No space left on device",),
        )
    )
    assert out.code == exitcodes.OK
    assert len(out.notes) == 3
    assert any("every actor carried on" in n for n in out.notes)


def test_outcome_round_trips_through_the_summary() -> None:
    out = decide(RunFacts(crossed=("a<1",), stop_signal="SIGINT"))
    again = Outcome.from_wire(out.to_wire())
    assert again == out
    assert Outcome.from_wire(None) is None
    assert Outcome.from_wire({"code": "99"}) is None


def _scenarios(spec: dict[str, dict[str, object]]) -> list[object]:
    from veza_ray.core.options import parse_options

    return list(parse_options({"scenarios": spec}).scenarios)


def test_peak_vus_adds_overlapping_scenarios_only() -> None:
    scs = _scenarios(
        {
            "a": {"executor": "constant-vus", "vus": 10, "duration": "10s"},
            "b": {"executor": "constant-vus", "vus": 5, "duration": "10s"},
            "c": {"executor": "constant-vus", "vus": 7, "duration": "5s", "startTime": "30s"},
        }
    )
    assert peak_vus(scs) == 15  # type: ignore[arg-type]


def test_memory_refusal_names_the_estimate() -> None:
    scs = _scenarios({"a": {"executor": "constant-vus", "vus": 10_000_000, "duration": "1s"}})
    est = estimate_memory(scs, 2)  # type: ignore[arg-type]
    why = memory_refusal(est, 16 * 1024**3)
    assert why is not None
    assert "10000000 VUs on 2 actor(s)" in why and "16,384 MB" in why
    small = estimate_memory(
        _scenarios({"a": {"executor": "constant-vus", "vus": 1650, "duration": "1s"}}), 2
    )  # type: ignore[arg-type]
    assert memory_refusal(small, 16 * 1024**3) is None


def test_output_refusal(tmp_path: object) -> None:
    import pathlib

    base = pathlib.Path(str(tmp_path))
    assert output_refusal("--html", str(base / "r.html")) is None
    assert output_refusal("--markdown", "-") is None
    msg = output_refusal("--summary-export", "/nodir/x.json")
    assert msg is not None and "'/nodir' does not exist" in msg
    msg = output_refusal("--junit", str(base))
    assert msg is not None and "is a directory" in msg


def test_a_lost_output_fails_only_a_run_that_would_pass() -> None:
    lost = ("--out json=/dev/full: No space left on device; 0 of 5 intervals written",)
    out = decide(RunFacts(outputs_lost=lost))
    assert out.code == exitcodes.OUTPUT_LOST == 113
    assert out.reasons == (f"output lost: {lost[0]}",)
    # it never hides a verdict on the load: 105, 99, 103 and 112 come first
    for facts, code in (
        (RunFacts(outputs_lost=lost, stop_signal="SIGTERM"), 105),
        (RunFacts(outputs_lost=lost, crossed=("a<1",)), 99),
        (RunFacts(outputs_lost=lost, undelivered_iterations=3), 103),
        (RunFacts(outputs_lost=lost, saturated=("actor 1",)), 112),
    ):
        again = decide(facts)
        assert again.code == code and f"output lost: {lost[0]}" in again.reasons
    allowed = decide(RunFacts(outputs_lost=lost, allow_output_loss=True))
    assert allowed.code == 0 and "--allow-output-loss" in allowed.notes[0]
    assert lost[0] in allowed.notes[0]


def test_files_lost_on_the_submitting_machine_fail_a_pass_only() -> None:
    from veza_ray.core.outcome import after_local_outputs

    assert after_local_outputs(0, ["--html r.html: No space"], False) == 113
    assert after_local_outputs(0, ["--html r.html: No space"], True) == 0
    assert after_local_outputs(99, ["--html r.html: No space"], False) == 99
    assert after_local_outputs(0, [], False) == 0


def test_a_baseline_regression_is_114_after_99_103_and_112() -> None:
    from veza_ray.core.outcome import RunFacts, decide

    worse = ("http_req_duration{scenario:browse} p(95) 80 ms -> 104 ms (+30.0 %, ...)",)
    o = decide(RunFacts(regressions=worse, requests=10))
    assert o.code == 114 and o.reasons == (f"worse than the baseline: {worse[0]}",)
    assert decide(RunFacts(regressions=worse, crossed=("x",))).code == 99
    assert decide(RunFacts(regressions=worse, undelivered_vu_seconds=5.0)).code == 103
    assert decide(RunFacts(regressions=worse, saturated=("actor 0",))).code == 112
    warn = decide(RunFacts(regressions=worse, regression_warn_only=True, requests=10))
    assert warn.code == 0 and warn.notes[0].startswith("worse than the baseline (--baseline-warn")
    noted = decide(RunFacts(history_notes=("run not recorded in the history: locked",)))
    assert noted.code == 0 and noted.notes == ("run not recorded in the history: locked",)
    # a verdict on the load comes before a lost output
    both = decide(RunFacts(regressions=worse, outputs_lost=("--html r.html: full",)))
    assert both.code == 114 and len(both.reasons) == 2
