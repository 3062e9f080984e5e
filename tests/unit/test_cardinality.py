"""Bounded series per metric (core/cardinality.py): folding, exact totals, one warning."""

from __future__ import annotations

from typing import Any

import pytest

from veza_ray.core import cardinality
from veza_ray.core.merge import MergedRun
from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, make_tags
from veza_ray.core.metrics import CounterSink, MetricStore, TrendSink
from veza_ray.core.options import parse_options
from veza_ray.core.outcome import RunFacts, decide

LIMIT = 50


def _http_tags(i: int, status: int = 200) -> tuple[tuple[str, str], ...]:
    return make_tags(
        {
            "scenario": "s",
            "name": f"http://h/items/{i}",
            "method": "GET",
            "status": str(status),
            "expected_response": "true",
            "url": f"http://h/items/{i}",
        }
    )


def test_past_the_limit_new_tag_sets_fold_into_one_overflow_series_with_bounded_tags() -> None:
    store = MetricStore(BUILTIN_METRICS, max_series_per_metric=LIMIT)
    for i in range(LIMIT * 4):
        s = store.sink("http_reqs", _http_tags(i, 200 if i % 2 else 404))
        assert isinstance(s, CounterSink)
        s.add(1)
    keys = [tags for name, tags in store.series if name == "http_reqs"]
    folded = [dict(t) for t in keys if cardinality.is_overflow(t)]
    assert len(keys) == LIMIT + 2  # the limit, then one overflow series per status
    assert sorted(f["status"] for f in folded) == ["200", "404"]
    assert all("name" not in f and "url" not in f for f in folded)
    assert store.aggregate("http_reqs").values(1.0)["count"] == LIMIT * 4  # type: ignore[union-attr]
    assert store.folded_samples() == {"http_reqs": LIMIT * 3}
    # A tag set seen before the limit keeps its own series.
    assert (
        store.sink("http_reqs", _http_tags(0, 404))
        is store.series[("http_reqs", _http_tags(0, 404))]
    )


def _delta(series: Any) -> Any:
    return {
        "series": series,
        "scenarios": {},
        "errors": {},
        "lag_ms": [],
        "cpu": 0.0,
        "wall": 0.0,
        "done": False,
        "started": True,
        "end": None,
    }


@pytest.mark.parametrize("actors", [1, 2])
def test_the_driver_folds_too_and_totals_stay_exact(actors: int) -> None:
    """Each actor keeps LIMIT tag sets of its own; their union passes the driver's limit."""
    defs = {**BUILTIN_METRICS, "hits": MetricDef("hits", MetricType.COUNTER)}
    run = MergedRun(
        parse_options({"vus": 1, "duration": "1s"}),
        defs,
        [[]] * actors,
        max_series_per_metric=LIMIT,
    )
    stores = [MetricStore(defs, max_series_per_metric=LIMIT) for _ in range(actors)]
    sent = 0
    warnings = []
    for round_ in range(4):
        for a, store in enumerate(stores):
            for i in range(40):
                uid = (round_ * actors + a) * 1000 + i  # unique across actors and rounds
                store.sink("http_reqs", _http_tags(uid)).add(1)  # type: ignore[call-arg]
                d = store.sink("http_req_duration", _http_tags(uid))
                assert isinstance(d, TrendSink)
                d.add(float(i))
                store.sink("hits", make_tags({"scenario": "s", "id": str(uid)})).add(2)  # type: ignore[call-arg]
                sent += 1
        run.tick({a: _delta(s.drain()) for a, s in enumerate(stores)}, {}, float(round_), 1.0)
        warnings += run.notices
        run.notices.clear()
    total = run.total
    assert total.aggregate("http_reqs").values(1.0)["count"] == sent  # type: ignore[union-attr]
    assert total.aggregate("hits").values(1.0)["count"] == 2 * sent  # type: ignore[union-attr]
    dur = total.aggregate("http_req_duration")
    assert isinstance(dur, TrendSink) and dur.digest.count == sent
    for name in ("http_reqs", "http_req_duration", "hits"):
        kept = [t for n, t in total.series if n == name and not cardinality.is_overflow(t)]
        assert len(kept) == LIMIT
    assert len(warnings) == 1 and "unique time series" in warnings[0]
    assert "use the name metric tag or URL grouping" in warnings[0]
    report = run.series_report()
    assert report["count"] == len(total.series) and report["overflow_series"] >= 3
    assert report["folded_samples"]["http_reqs"] == sent - LIMIT
    assert report["folded_samples"]["hits"] == 2 * (sent - LIMIT)
    outcome = decide(RunFacts(series_note=report["note"], requests=sent, planned_s=1.0))
    assert outcome.code == 0 and any("folded" in n for n in outcome.notes)


def test_the_warning_comes_at_k6s_words_once_past_the_count() -> None:
    watch = cardinality.Watch(LIMIT)
    assert watch.check(cardinality.WARN_SERIES, False) == ""
    first = watch.check(cardinality.WARN_SERIES + 1, False)
    assert first.startswith(f"The test has generated metrics with {cardinality.WARN_SERIES + 1} ")
    assert watch.check(10 * cardinality.WARN_SERIES, True) == ""


def test_no_note_when_nothing_was_folded() -> None:
    assert cardinality.note({}) == ""
    assert decide(RunFacts(requests=1, planned_s=1.0)).notes == ()
