"""k6's per-request parameters that need reading before a request goes out: ``timeout``,
``redirects`` and ``responseCallback``. Pure, so the rules are one table of tests
(tests/unit/test_http_params.py).

k6 reads ``params.timeout`` with types.GetDurationValue: a JS number is milliseconds, a
string a k6 duration ("500ms", "2s", "1m30s", "1d"; a bare "500" is 500 ms). In Python a
number is seconds (``timeout=2.5``), as everywhere in veza-ray; a string is read as k6
reads it, except a bare number string, which a Python reader could take for seconds and
k6 reads as milliseconds: that one is refused rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping

from veza_ray.core.durations import parse_go_float, parse_k6_duration


class BadParam(ValueError):
    """A request parameter k6 would not send a request with: a script error, never a
    network failure."""


def request_timeout(raw: object) -> float:
    """The request's timeout in seconds from what the script gave."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise BadParam(
            f"timeout={raw!r}: give seconds as a number (timeout=2.5) or a k6 duration "
            'string ("500ms", "2s")'
        )
    if isinstance(raw, str):
        text = raw.strip()
        try:
            parse_go_float(text)
        except ValueError:
            pass
        else:
            raise BadParam(
                f"timeout={raw!r} is ambiguous: k6 reads a bare number string as "
                "milliseconds, a Python number is seconds; write "
                f'"{text}ms" or a number of seconds'
            )
        try:
            seconds = parse_k6_duration(text)
        except ValueError as exc:
            raise BadParam(f"timeout={raw!r} {exc}") from None
    else:
        seconds = float(raw)
    if not math.isfinite(seconds) or seconds <= 0:
        raise BadParam(f"timeout={raw!r} must be a positive, finite duration")
    return seconds


def redirect_limit(raw: object, where: str = "redirects") -> int:
    """How many redirects to follow (k6's ``redirects`` / ``maxRedirects``): 0 returns the
    3xx itself."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise BadParam(f"{where}={raw!r} must be a whole number of redirects")
    if isinstance(raw, float) and not raw.is_integer():
        raise BadParam(f"{where}={raw!r} must be a whole number of redirects")
    if raw < 0:
        raise BadParam(f"{where}={raw!r} must not be negative")
    return int(raw)


class NoCallback:
    """k6's ``responseCallback: null``: no ``expected_response`` tag and no
    ``http_req_failed`` sample for the request (k6: httpext/transport.go)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_CALLBACK"


NO_CALLBACK = NoCallback()
Expected = Collection[int] | Callable[[int], bool] | NoCallback | None  # None: 200-399


def response_callback(raw: object, where: str = "response_callback") -> Expected:
    """What a script gave as k6's responseCallback: None turns expected-status tagging off
    (k6's null), a collection of statuses or a predicate says which are expected."""
    if raw is None or isinstance(raw, NoCallback):
        return NO_CALLBACK
    if isinstance(raw, (str, bytes, Mapping)) or not (callable(raw) or isinstance(raw, Collection)):
        raise BadParam(
            f"{where}={raw!r}: give None (k6's null), expected statuses "
            "(http.expected_statuses(200, (400, 404)) or a set) or a function of the status"
        )
    return raw  # type: ignore[return-value]
