"""A failed exchange is timed as k6 times it (issue 17, "Numbers that lie"), side by side
with real k6 on the seeded target.

The issue's case: a target that never answers 19 % of requests (the rest in ~10 ms), 10
VUs, ``timeout`` 1 s, ``http_req_duration: p(95)<500``. k6 v1.1.0 gives p95 ~1001 ms and
exit 99; veza-ray gave p95 11 ms and PASS, because a timeout was recorded as a 0 ms
request. Here both run on the same target; veza-ray's p95 must be within 5 % of k6's and
both must exit 99. Variants fail the exchange at other points (after part of the head,
mid-body, a reset before the head or mid-body, a clean close mid-body), each with a
threshold that the failures' real durations break.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from diff_plan import ABS_MS, Plan, draw
from diff_runs import Result, run_k6, run_veza
from diff_target import RESET_WAIT_S, Target

pytestmark = [pytest.mark.k6, pytest.mark.ray]

TEN_MS = ("constant", 0.01, 0.0, 0.0)


def _plan(kind: str, share: float, timeout_s: float, bound: str, iterations: int) -> Plan:
    return draw(
        17,
        vus=10,
        iterations=iterations,
        per_iter=1,
        mix={kind: share, "ok": 1.0 - share},
        timeout_s=timeout_s,
        latency=TEN_MS,
        thresholds={"http_req_duration": [bound]},
    )


def _both(plan: Plan, tmp: Path, key: str = "http_req_duration") -> tuple[Result, Result]:
    """k6 and veza-ray (1 actor) on one target. When their p95 of ``key`` are not close
    (``_close``) the pair runs once more: a p95 over ~20 failures sits next to their max,
    and one stalled process on a shared 2-core box moves it; a real difference repeats."""
    with Target(plan.acts) as target:
        k6 = run_k6(plan, target, tmp)
        vr = run_veza(plan, target, tmp, actors=1)
        if not _close(_p95(k6, key), _p95(vr, key)):
            print(f"p95 {_p95(k6, key):.1f} / {_p95(vr, key):.1f}: run again")
            k6 = run_k6(plan, target, tmp)
            vr = run_veza(plan, target, tmp, actors=1)
    for r in (k6, vr):  # the run really sent its load, all of it
        assert r.metric("http_reqs")["count"] == len(plan.acts), (r.tool, r.output)
    # The target read as many requests from each, up to the replays that scheduling decides
    # (a GET failed before any byte on a reused connection is sent once more).
    assert min(vr.served, k6.served) >= len(plan.acts)
    assert abs(vr.served - k6.served) <= plan.replayable()
    return k6, vr


def _close(k6_ms: float, vr_ms: float) -> bool:
    """Within 5 %, or the harness's jitter allowance on a shared box (diff_plan.ABS_MS)."""
    return abs(k6_ms - vr_ms) <= max(0.05 * k6_ms, ABS_MS)


def _p95(r: Result, key: str = "http_req_duration") -> float:
    return r.metric(key).get("p(95)", -1.0)


def test_issue_case_never_answering_19_percent(tmp_path: Path) -> None:
    """The issue's numbers: k6 p95 ~1001 ms, exit 99; veza-ray within 5 %, exit 99."""
    plan = _plan("hang", 0.19, 1.0, "p(95)<500", iterations=20)
    k6, vr = _both(plan, tmp_path)
    print(f"k6 p95 {_p95(k6):.1f} ms exit {k6.rc}; veza-ray p95 {_p95(vr):.1f} ms exit {vr.rc}")
    assert _p95(k6) >= 1000.0, "k6 times a 1 s timeout as ~1 s"
    assert abs(_p95(vr) - _p95(k6)) <= 0.05 * _p95(k6), (_p95(k6), _p95(vr))
    assert vr.metric("http_req_duration")["max"] >= 1000.0
    assert (k6.rc, vr.rc) == (99, 99), vr.output
    assert vr.metric("http_req_failed")["passes"] == k6.metric("http_req_failed")["passes"] == 38


def test_ten_percent_timeouts_give_a_p95_of_at_least_the_timeout(tmp_path: Path) -> None:
    """Issue 17's stated check: 10 % of requests time out, so p95 >= the timeout."""
    plan = _plan("hang", 0.10, 1.0, "p(95)<500", iterations=10)
    k6, vr = _both(plan, tmp_path)
    assert _p95(k6) >= 1000.0
    # http_req_duration leaves out connecting, in k6 as here, so a request on a new
    # connection is timed short of its timeout by its connect (~0.1-0.5 ms on loopback);
    # k6 lands above 1000 because Go's timers fire late, ours fire on time.
    assert _p95(vr) >= 999.0, _p95(vr)
    assert (k6.rc, vr.rc) == (99, 99), vr.output


@pytest.mark.parametrize(
    ("kind", "timeout_s", "bound", "floor_ms"),
    [
        # silence after part of the head: the first byte came, so it is all ``receiving``
        ("hang_head", 0.6, "p(95)<300", 600.0),
        # silence after the head and half the body
        ("hang_body", 0.6, "p(95)<300", 600.0),
        # a reset before any byte of the response: waiting runs to the reset
        ("reset", 5.0, "p(95)<100", RESET_WAIT_S * 1000),
        # a reset after the head and half the body: receiving runs to the reset
        ("reset_body", 5.0, "p(95)<100", RESET_WAIT_S * 1000),
    ],
)
def test_failures_at_other_points_are_timed_as_k6_times_them(
    tmp_path: Path, kind: str, timeout_s: float, bound: str, floor_ms: float
) -> None:
    plan = _plan(kind, 0.19, timeout_s, bound, iterations=10)
    k6, vr = _both(plan, tmp_path)
    print(
        f"{kind}: k6 p95 {_p95(k6):.1f} ms exit {k6.rc}; veza-ray p95 {_p95(vr):.1f} exit {vr.rc}"
    )
    assert _p95(k6) >= floor_ms
    assert _close(_p95(k6), _p95(vr)), (_p95(k6), _p95(vr))
    assert (k6.rc, vr.rc) == (99, 99), vr.output
    failed = vr.metric("http_req_failed")["passes"]
    assert failed == k6.metric("http_req_failed")["passes"] == 19


@pytest.mark.parametrize("kind", ["cut_body", "close"])
def test_a_clean_close_is_timed_to_the_close(tmp_path: Path, kind: str) -> None:
    """A FIN mid-body (code 1000, "unexpected EOF") or before any byte ("EOF"; on a reused
    connection the GET is sent again and timed over both attempts, as k6 times it) after
    150 ms: k6 times it at 150 ms or more, and so must we, so ``p(95)<100`` on those
    requests fails in both."""
    plan = draw(
        17,
        vus=10,
        iterations=10,
        per_iter=1,
        mix={kind: 0.19, "ok": 0.81},
        timeout_s=5.0,
        latency=("constant", 0.15, 0.0, 0.0),
        thresholds={f"http_req_duration{{name:{kind}}}": ["p(95)<100"]},
    )
    key = f"http_req_duration{{name:{kind}}}"
    k6, vr = _both(plan, tmp_path, key)
    a, b = _p95(k6, key), _p95(vr, key)
    print(f"{kind}: k6 p95 {a:.1f} ms exit {k6.rc}; veza-ray p95 {b:.1f} exit {vr.rc}")
    assert a >= 150.0 and b >= 150.0, (a, b)
    if kind == "cut_body":
        assert _close(a, b), (a, b)
    # A FIN before any byte is replayed only on a reused connection; k6 keeps its idle
    # connections per VU, veza-ray per actor (docs/http-client.md), so which requests are
    # replayed, and so the p95 of these few, differs: the floor and the verdict must not.
    assert (k6.rc, vr.rc) == (99, 99), vr.output
