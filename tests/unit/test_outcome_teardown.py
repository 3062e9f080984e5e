"""A teardown() that failed decides the exit code as k6's would, after the thresholds."""

from __future__ import annotations

from veza_ray.core import exitcodes
from veza_ray.core.outcome import RunFacts, decide


def test_teardown_failure_sets_its_code_and_says_why() -> None:
    out = decide(RunFacts(teardown_failure=(107, "teardown() failed: Error: gone"), requests=3))
    assert out.code == exitcodes.SCRIPT_ERROR
    assert out.reasons == ("teardown() failed: Error: gone",)
    timeout = decide(RunFacts(teardown_failure=(101, "teardown() execution timed out after 1 s")))
    assert timeout.code == exitcodes.TEARDOWN_TIMEOUT


def test_crossed_thresholds_come_first_and_both_reasons_are_kept() -> None:
    out = decide(RunFacts(crossed=("checks rate>0.9",), teardown_failure=(101, "timed out")))
    assert out.code == exitcodes.THRESHOLDS_FAILED
    assert "timed out" in out.reasons
    assert decide(RunFacts(requests=1)).code == exitcodes.OK
