"""Set-Cookie lines as Go reads them and k6's ``res.cookies`` (core/setcookie.py).

Expected rows are what k6 v1.1.0 printed for ``JSON.stringify(res.cookies)`` on the same
lines (tests/conformance/test_k6_cookie_api.py compares the two live)."""

from __future__ import annotations

import pytest

from veza_ray.core.setcookie import (
    GO_ZERO_EXPIRES_MS,
    go_date,
    go_unix_ms,
    parse_set_cookie,
    response_cookies,
)

Z = GO_ZERO_EXPIRES_MS


def _row(name: str, value: str, domain: str = "", path: str = "", http_only: bool = False,
         secure: bool = False, max_age: int = 0, expires: int = Z) -> dict[str, object]:  # fmt: skip
    return {
        "name": name, "value": value, "domain": domain, "path": path,
        "http_only": http_only, "secure": secure, "max_age": max_age, "expires": expires,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("a=1", _row("a", "1")),
        ("a=2; Path=/p", _row("a", "2", path="/p")),
        ('b="q v"; Domain=.127.0.0.1; HttpOnly; Secure; Max-Age=60',
         _row("b", "q v", ".127.0.0.1", http_only=True, secure=True, max_age=60)),
        ("c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT; SameSite=Lax",
         _row("c", "3", expires=2139722880000)),
        ("d=4; Max-Age=0", _row("d", "4", max_age=-1)),
        ("e=5; Max-Age=-3", _row("e", "5", max_age=-1)),
        ("f=6; Max-Age=05", _row("f", "6")),  # a leading zero: ignored
        ("g=x y", _row("g", "x y")),
        ("h=; Path=/p/", _row("h", "", path="/p/")),
        ("i=7; Priority=High; Partitioned", _row("i", "7")),
        ("j=8; Expires=bogus", _row("j", "8")),
        ("sp= 1", _row("sp", " 1")),  # Go trims the line, not the value
        ("k=1; Expires=Thu, 01-Jan-1970 00:00:01 GMT", _row("k", "1", expires=1000)),
        ('p=1; Path="/x"', _row("p", "1")),  # a quote in an attribute: ignored
    ],
)  # fmt: skip
def test_response_cookie_fields_as_k6(line: str, want: dict[str, object]) -> None:
    got = response_cookies([line])
    assert list(got) == [want["name"]]
    assert [c.as_dict() for c in got[str(want["name"])]] == [want]


def test_dropped_lines_and_order_within_a_name() -> None:
    got = response_cookies(["bad name=1", "noeq", 'q=x"y', "", "a=1", "a=2; Path=/p"])
    assert list(got) == ["a"]
    assert [(c.value, c["path"]) for c in got["a"]] == [("1", ""), ("2", "/p")]
    assert response_cookies([]) == {}
    assert parse_set_cookie(" a = 1 ") is not None


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("thu, 01 jan 1970 00:00:00 UTC", 0.0),  # day and month names in any case
        ("Thu, 01 Jan 1970 0:00:00 GMT", 0.0),  # the hour may be one digit
        ("Thu, 1 Jan 1970 00:00:00 GMT", None),  # the day may not
        ("Thu, 31 Feb 1970 00:00:00 GMT", None),  # no such day
        ("Thu, 01 Jan 1970 00:00:00 GMT+2", 0.0),  # the offset ignored (k6 v1.1.0)
        ("Thu, 01 Jan 1970 00:00:00 CET", 0.0),  # an unknown zone: offset 0, as Go
        ("Thursday, 01-Jan-70 00:00:00 GMT", None),  # RFC 850: Go does not read it
    ],
)
def test_go_date(text: str, epoch: float | None) -> None:
    assert go_date(text) == epoch


def test_expires_overflow_as_go() -> None:
    assert go_unix_ms(None) == -6795364578871
    assert go_unix_ms(0.0) == 0
    assert go_unix_ms(-1.0) == -1000
    assert go_unix_ms(253402300799.0) != 253402300799000  # 9999-12-31: int64 ns overflow
