"""k6's per-request ``timeout`` and ``redirects`` as veza-ray reads them (core/http_params.py):
k6's duration strings accepted, a Python number read as seconds, anything ambiguous or
invalid refused with a message naming the value."""

from __future__ import annotations

import pytest

from veza_ray.core.http_params import BadParam, redirect_limit, request_timeout


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
