"""k6's per-request ``timeout`` and ``redirects`` as veza-ray reads them (core/http_params.py):
k6's duration strings accepted, a Python number read as seconds, anything ambiguous or
invalid refused with a message naming the value."""

from __future__ import annotations

import pytest

from veza_ray.core.http_params import (
    NO_CALLBACK,
    BadParam,
    redirect_limit,
    request_timeout,
    response_callback,
)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5s", 1.5),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        (" 250ms ", 0.25),
        (2, 2.0),  # a Python number is seconds
        (0.75, 0.75),
    ],
)
def test_timeout_forms_k6_accepts(raw: object, seconds: float) -> None:
    assert request_timeout(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("500", "ambiguous"),  # k6: 500 ms; a Python reader: 500 s
        ("1.5", "ambiguous"),
        ("abc", "not a duration"),
        ("", "not a duration"),
        ("5 s", "not a duration"),
        ("-1s", "negative"),
        (0, "positive"),
        (-3, "positive"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        (True, "seconds as a number"),
        (None, "seconds as a number"),
        ([1], "seconds as a number"),
    ],
)
def test_timeout_refused_naming_the_value(raw: object, words: str) -> None:
    with pytest.raises(BadParam) as err:
        request_timeout(raw)
    assert words in str(err.value)
    assert f"timeout={raw!r}" in str(err.value)


@pytest.mark.parametrize(("raw", "n"), [(0, 0), (1, 1), (10, 10), (3.0, 3)])
def test_redirect_limit(raw: object, n: int) -> None:
    assert redirect_limit(raw) == n


@pytest.mark.parametrize("raw", [-1, 1.5, "3", True, None])
def test_redirect_limit_refused(raw: object) -> None:
    with pytest.raises(BadParam, match=r"redirects="):
        redirect_limit(raw)


def test_max_redirects_option() -> None:
    from veza_ray.core.options import OptionsError, parse_options

    base = {"scenarios": {"s": {"executor": "shared-iterations"}}}
    assert parse_options(base).max_redirects == 10  # k6's default
    assert parse_options({**base, "maxRedirects": 0}).max_redirects == 0
    with pytest.raises(OptionsError, match=r"options.maxRedirects.*-2"):
        parse_options({**base, "maxRedirects": -2})


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (None, NO_CALLBACK),  # k6's responseCallback: null
        (NO_CALLBACK, NO_CALLBACK),
        ({200, 404}, {200, 404}),
        (frozenset({201}), frozenset({201})),
        ([200], [200]),
    ],
)
def test_response_callback(raw: object, want: object) -> None:
    assert response_callback(raw) == want


@pytest.mark.parametrize("raw", ["200", b"200", {"min": 200}, 200, True, 2.5])
def test_response_callback_refused(raw: object) -> None:
    with pytest.raises(BadParam, match=r"response_callback=.*None \(k6's null\)"):
        response_callback(raw)


def test_no_callback_records_neither_tag_nor_failed() -> None:
    """k6 (httpext/transport.go): with no callback, no ``expected_response`` tag and no
    ``http_req_failed`` sample; its summary then has neither ``http_req_failed`` nor
    ``http_req_duration{expected_response:true}`` (checked on k6 v1.1.0)."""
    from veza_ray.core.metric_types import BUILTIN_METRICS
    from veza_ray.core.metrics import MetricStore
    from veza_ray.core.summary import EXPECTED_SUBMETRIC, build_summary
    from veza_ray.engine.http import Timings
    from veza_ray.engine.runner import ScenarioRecorder

    store = MetricStore(BUILTIN_METRICS)
    rec = ScenarioRecorder(store, {"scenario": "s"})
    for status in (200, 404):
        rec.http("GET", "u", status, None, 0, (), Timings(waiting=5.0), 10, 10)
    metrics = build_summary(store, [], ["avg"], 1.0)["metrics"]
    assert metrics["http_reqs"]["values"]["count"] == 2
    assert "http_req_failed" not in metrics and EXPECTED_SUBMETRIC not in metrics
    assert all("expected_response" not in dict(tags) for _, tags in store.series)
    rec.http("GET", "u", 404, False, 1404, (), Timings(waiting=5.0), 10, 10)
    metrics = build_summary(store, [], ["avg"], 1.0)["metrics"]
    assert metrics["http_req_failed"]["values"]["passes"] == 1
    assert EXPECTED_SUBMETRIC not in metrics  # no request was expected: none, as k6
    rec.http("GET", "u", 200, True, 0, (), Timings(waiting=5.0), 10, 10)
    metrics = build_summary(store, [], ["avg"], 1.0)["metrics"]
    assert metrics[EXPECTED_SUBMETRIC]["values"]["avg"] == 5.0
