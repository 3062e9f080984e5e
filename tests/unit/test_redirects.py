"""One redirect-following rule set (core/redirects.py) for the pre-flight and the client."""

from __future__ import annotations

import pytest

from veza_ray.core.redirects import MAX_REDIRECTS, is_redirect, next_request, next_url


@pytest.mark.parametrize(
    ("url", "location", "want"),
    [
        ("http://a.test/x/y?q=1", "/z", "http://a.test/z"),
        ("http://a.test/x/y?q=1", "z?r=2", "http://a.test/x/z?r=2"),
        ("http://a.test/x/y#frag", "../up", "http://a.test/up"),
        ("http://a.test/x", "http://b.test:8080/p", "http://b.test:8080/p"),
        ("https://a.test/x", "//c.test/p", "https://c.test/p"),
    ],
)
def test_next_url_resolves_against_the_request(url: str, location: str, want: str) -> None:
    assert next_url(url, location) == want


@pytest.mark.parametrize(
    ("status", "method", "want"),
    [
        (301, "POST", ("GET", None)),
        (302, "PUT", ("GET", None)),
        (303, "DELETE", ("GET", None)),
        (302, "HEAD", ("HEAD", b"b")),
        (307, "POST", ("POST", b"b")),
        (308, "PUT", ("PUT", b"b")),
    ],
)
def test_next_request_follows_go(status: int, method: str, want: tuple[str, bytes | None]) -> None:
    assert next_request(status, method, b"b") == want


def test_only_redirects_with_a_location_send_on() -> None:
    assert is_redirect(302, "/x") and not is_redirect(302, "") and not is_redirect(304, "/x")
    assert MAX_REDIRECTS == 10  # k6's default maxRedirects
