"""core/compare.py: verdicts per row (same / better / worse / noise), the floor, the
tests named with their p-values, and the text / Markdown renderings."""

from __future__ import annotations

import random
from typing import Any

import pytest

from veza_ray.core.compare import (
    CompareSettings,
    compare,
    regression_reasons,
    render_markdown,
    render_text,
    run_data,
)
from veza_ray.core.digest import Digest
from veza_ray.core.series import ALL

SCENARIOS = ("browse", "streaming")


def _summary(seed: int, slow: dict[str, float] | None = None, failed: int = 0) -> dict[str, Any]:
    """A summary as a run writes it: digests, counts, per-interval p95s, verdicts."""
    rng = random.Random(seed)
    # streaming is the slower flow, as upload is in the gate: the global p95 is its own
    slow = {"streaming": 2.0, **(slow or {})}
    intervals: list[dict[str, Any]] = []
    whole = {name: Digest() for name in (*SCENARIOS, ALL)}
    for t in range(30):
        point: dict[str, Any] = {"t": t + 1.0, "scenarios": {}}
        every = Digest()
        for name in SCENARIOS:
            d = Digest()
            d.add_many([rng.lognormvariate(2.0, 0.3) * slow.get(name, 1.0) for _ in range(50)])
            whole[name].merge(d)
            every.merge(d)
            point["scenarios"][name] = {"reqs": 50.0, "p95": d.quantile(0.95)}
        whole[ALL].merge(every)
        point[ALL] = {"reqs": 100.0, "p95": every.quantile(0.95)}
        intervals.append(point)
    per = {n: {"reqs": 1500.0, "failed": 0.0, "judged": 1500.0} for n in SCENARIOS}
    per["browse"]["failed"] = float(failed)
    return {
        "state": {"testRunDurationMs": 30_000.0},
        "metrics": {
            "http_req_duration": {"type": "trend", "values": {}},
            "http_req_failed": {
                "type": "rate",
                "values": {"passes": float(failed), "fails": 3000.0 - failed},
            },
            "browse_errors": {"type": "rate", "values": {"passes": float(failed), "fails": 1500.0}},
        },
        "veza_ray": {
            "scenarios": list(SCENARIOS),
            "verdicts": [
                {"metric_key": "http_req_duration", "expression": "p(95)<500"},
                {"metric_key": "http_req_duration{scenario:browse}", "expression": "p(95)<400"},
                {"metric_key": "http_req_failed", "expression": "rate<0.005"},
                {"metric_key": "browse_errors", "expression": "rate<0.005"},
            ],
            "intervals": intervals,
            "digests": {
                ALL: whole[ALL].to_wire(),
                "scenarios": {n: whole[n].to_wire() for n in SCENARIOS},
            },
            "requests": {
                ALL: {"reqs": 3000.0, "failed": float(failed), "judged": 3000.0},
                "scenarios": per,
            },
        },
    }


def _rows(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["key"], r["stat"]): r for r in result["rows"]}


def test_the_same_run_twice_is_same_everywhere() -> None:
    result = compare(run_data(_summary(1), "a"), run_data(_summary(2), "b"))
    assert not result["regressed"]
    keys = {(r["key"], r["stat"]) for r in result["rows"]}
    assert ("http_req_duration{scenario:browse}", "p(95)") in keys
    assert ("http_req_failed{scenario:streaming}", "rate") in keys
    assert ("browse_errors", "rate") in keys
    assert all(r["verdict"] in ("same", "noise") for r in result["rows"])


def test_browse_30_percent_slower_is_worse_on_browse_only() -> None:
    base, new = run_data(_summary(1), "base"), run_data(_summary(2, {"browse": 1.3}), "new")
    result = compare(base, new)
    rows = _rows(result)
    browse = rows[("http_req_duration{scenario:browse}", "p(95)")]
    assert browse["verdict"] == "worse"
    assert browse["test"] == "Mann-Whitney U" and browse["p_value"] < 1e-6
    assert browse["change_pct"] == pytest.approx(30, abs=6)
    assert rows[("http_req_duration{scenario:streaming}", "p(95)")]["verdict"] == "same"
    assert result["worse"] == ["http_req_duration{scenario:browse} p(95)"]
    assert [k for k, r in rows.items() if r["verdict"] == "worse"] == [
        ("http_req_duration{scenario:browse}", "p(95)")
    ]
    (reason,) = regression_reasons(result)
    assert "Mann-Whitney U p = " in reason and "against baseline base" in reason


def test_faster_is_better_and_a_small_move_is_same() -> None:
    rows = _rows(compare(run_data(_summary(1, {"browse": 1.3})), run_data(_summary(2))))
    assert rows[("http_req_duration{scenario:browse}", "p(95)")]["verdict"] == "better"
    rows = _rows(compare(run_data(_summary(1)), run_data(_summary(2, {"browse": 1.05}))))
    assert rows[("http_req_duration{scenario:browse}", "p(95)")]["verdict"] == "same"


def test_beyond_the_floor_without_significance_is_noise() -> None:
    base, new = run_data(_summary(1)), run_data(_summary(2, {"browse": 1.3}))
    for data in (base, new):  # three intervals each: too few for p < 0.01
        data["interval_p95"] = {k: v[:3] for k, v in data["interval_p95"].items()}
    row = _rows(compare(base, new))[("http_req_duration{scenario:browse}", "p(95)")]
    assert row["verdict"] == "noise" and row["p_value"] > 0.01
    for data in (base, new):
        data["interval_p95"] = {}
    row = _rows(compare(base, new))[("http_req_duration{scenario:browse}", "p(95)")]
    assert row["verdict"] == "noise" and row["p_value"] is None
    assert row["test"].startswith("none")


def test_floor_is_configurable() -> None:
    base, new = run_data(_summary(1)), run_data(_summary(2, {"browse": 1.3}))
    rows = _rows(compare(base, new, CompareSettings(floor=0.5)))
    assert rows[("http_req_duration{scenario:browse}", "p(95)")]["verdict"] == "same"


def test_error_rates_use_the_two_proportion_test_and_the_absolute_floor() -> None:
    base = run_data(_summary(1, failed=0))
    rows = _rows(compare(base, run_data(_summary(2, failed=60))))
    row = rows[("http_req_failed{scenario:browse}", "rate")]
    assert row["verdict"] == "worse" and row["test"] == "two-proportion z"
    assert row["new"]["rate"] == pytest.approx(60 / 1500)
    assert rows[("browse_errors", "rate")]["verdict"] == "worse"
    assert rows[("http_req_failed{scenario:streaming}", "rate")]["verdict"] == "same"
    # one failure in 1500 is +inf % but under the 0.1-point absolute floor: same
    rows = _rows(compare(base, run_data(_summary(2, failed=1))))
    assert rows[("http_req_failed{scenario:browse}", "rate")]["verdict"] == "same"


def test_renderings_name_the_test_and_the_answer() -> None:
    result = compare(run_data(_summary(1), "a.json"), run_data(_summary(2, {"browse": 1.3}), "b"))
    text = render_text(result)
    assert "REGRESSION: http_req_duration{scenario:browse} p(95)" in text
    assert "Mann-Whitney U" in text and "two-proportion z" in text
    md = render_markdown(result)
    assert md.startswith("### ❌ veza-ray compare: REGRESSION")
    assert "| **worse** |" in md
    assert md.count("\n|") == len(result["rows"]) + 2


def test_a_summary_without_digests_falls_back_to_its_trend_values() -> None:
    old = _summary(1)
    del old["veza_ray"]["digests"]
    old["metrics"]["http_req_duration{scenario:browse}"] = {
        "type": "trend",
        "values": {"med": 7.0, "p(95)": 12.0, "p(99)": 15.0},
    }
    result = compare(run_data(old), run_data(_summary(2)))
    row = _rows(result)[("http_req_duration{scenario:browse}", "p(95)")]
    assert row["base"]["p95"] == 12.0


def test_a_saturated_run_cannot_make_a_latency_row_worse() -> None:
    new = _summary(2, {"browse": 1.3})
    new["veza_ray"]["generator_health"] = {"saturated": True}
    result = compare(run_data(_summary(1), "base"), run_data(new, "night 2"))
    row = _rows(result)[("http_req_duration{scenario:browse}", "p(95)")]
    assert row["verdict"] == "noise" and row["p_value"] < 0.01
    assert not result["regressed"]
    assert result["notes"][0].startswith("the load generators of night 2 were saturated")
    assert "note: the load generators of night 2" in render_text(result)
