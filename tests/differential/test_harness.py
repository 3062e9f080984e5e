"""The differential harness's own logic, without k6 or Ray: a seed draws the same plan
every time, thresholds sit clear of the model, and the comparison flags a number that
differs beyond its tolerance (so the harness can fail)."""

from __future__ import annotations

import collections
import json

from diff_plan import draw, scripts, tolerance_ms, window
from diff_runs import Result, compare
from diff_target import KINDS


def test_a_seed_draws_the_same_plan_and_scripts() -> None:
    a, b = draw(5), draw(5)
    assert a.acts == b.acts and a.thresholds == b.thresholds
    assert scripts(a) == scripts(b)
    assert draw(6).acts != a.acts
    assert len(a.acts) == a.vus * a.iterations * a.per_iter


def test_shares_are_exact_and_every_kind_appears_across_seeds() -> None:
    plan = draw(1, vus=10, iterations=10, per_iter=1, mix={"hang": 0.19, "ok": 0.81})
    assert collections.Counter(plan.names()) == {"hang": 19, "ok": 81}
    seen = set()
    for seed in range(1, 30):
        seen |= set(draw(seed).names())
    assert seen == set(KINDS)


def test_thresholds_are_clear_of_the_model() -> None:
    for seed in range(1, 30):
        plan = draw(seed)
        for cond in plan.thresholds.get("http_req_duration", []):
            stat, bound = cond.split("<")
            q = {"med": 0.5, "p(95)": 0.95, "p(99)": 0.99, "max": 1.0}[stat]
            lo, hi = window(plan.models(), q)
            tol = tolerance_ms(plan.models(), q)
            assert float(bound) > hi + tol or float(bound) < lo - tol, (seed, cond, lo, hi)


def _summary(p95: float, ok: bool, reqs: int) -> dict[str, object]:
    return {
        "metrics": {
            "http_reqs": {"values": {"count": reqs}},
            "http_req_duration": {
                "values": {"med": 10.0, "p(90)": 12.0, "p(95)": p95, "p(99)": p95, "max": p95},
                "thresholds": {"p(95)<500": {"ok": ok}},
            },
        }
    }


def test_the_comparison_flags_what_differs_beyond_its_tolerance() -> None:
    plan = draw(1, vus=10, iterations=10, per_iter=1, mix={"hang": 0.19, "ok": 0.81})
    plan.timeout_s = 1.0
    n = len(plan.acts)
    k6 = Result("k6", 99, _summary(1001.0, False, n), n, "")
    same = Result("veza-ray x1", 99, _summary(1000.4, False, n), n, "")
    assert not compare(plan, k6, same).disagreements()
    lying = Result("veza-ray x1", 0, _summary(11.4, True, n), n, "")
    bad = {r.what for r in compare(plan, k6, lying).disagreements()}
    assert {
        "exit code",
        "http_req_duration p(95)",
        "threshold http_req_duration: p(95)<500 ok",
    } <= bad
    fewer = Result("veza-ray x1", 99, _summary(1000.4, False, n - 1), n, "")
    assert [r.what for r in compare(plan, k6, fewer).disagreements()] == ["http_reqs count"]


def test_both_scripts_carry_the_same_options() -> None:
    k6_js, vr_py = scripts(draw(3))
    opts = draw(3).thresholds
    for key in opts:
        assert json.dumps(key) in k6_js and repr(key) in vr_py
