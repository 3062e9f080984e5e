"""The VU's cookie jar (core/cookiejar.py) against what Go's net/http/cookiejar (so k6)
does, one rule per row."""

from __future__ import annotations

import pytest

from veza_ray.core.cookiejar import CookieJar, default_path, parse_set_cookie

NOW = 1_800_000_000.0
PAST = "Thu, 01 Jan 1970 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


def jar_after(*lines: str, path: str = "/") -> CookieJar:
    jar = CookieJar()
    for line in lines:
        jar.store(line, "example.test", path, NOW)
    return jar


@pytest.mark.parametrize(
    ("lines", "request_path", "header"),
    [
        (["a=1"], "/", "a=1"),
        (["a=1", f"a=2; Expires={PAST}"], "/", ""),  # re-set in the past: deleted
        (["a=1", "a=2; Max-Age=0"], "/", ""),
        (["a=1", "a=2; Max-Age=-5"], "/", ""),
        ([f"a=1; Expires={FUTURE}"], "/", "a=1"),
        (["a=1; Max-Age=60"], "/", "a=1"),
        (["a=1; Priority=High"], "/", "a=1"),  # unknown attribute: not a cookie
        (["a=1; Partitioned; Secure"], "/", ""),  # kept, but Secure: not over http
        (["a=1; Partitioned"], "/", "a=1"),
        (["a=x y"], "/", 'a="x y"'),  # kept; Go quotes a space or comma when sending
        (["a=x,y"], "/", 'a="x,y"'),
        (["a=b=c"], "/", "a=b=c"),
        (['a="quoted"'], "/", "a=quoted"),
        (["a=1; Path=/", "a=2; Path=/sub"], "/sub/x", "a=2; a=1"),  # longest path first
        (["a=1; Path=/", "a=2; Path=/sub"], "/other", "a=1"),
        (["a=1; Path=/subway"], "/sub", ""),
        (["a=1; Path=/sub"], "/subway", ""),
        (["b=2", "a=1"], "/", "b=2; a=1"),  # then by creation
        (["a=1; Domain=other.test"], "/", ""),  # not this host's domain: refused
        (["a=1; Domain=.example.test"], "/", "a=1"),
        (["bad name=1"], "/", ""),
        (["noequals"], "/", ""),
        (['a=x"y'], "/", ""),
    ],
)
def test_jar_rules(lines: list[str], request_path: str, header: str) -> None:
    assert jar_after(*lines).header("example.test", request_path, False, NOW) == header


def test_default_path_and_expiry_over_time() -> None:
    assert default_path("/a/b/c") == "/a/b"
    assert default_path("/a") == "/"
    assert default_path("") == "/"
    jar = jar_after("s=1", path="/app/login")
    assert jar.header("example.test", "/app/home", False, NOW) == "s=1"
    assert jar.header("example.test", "/other", False, NOW) == ""
    jar = jar_after("t=1; Max-Age=10")
    assert jar.header("example.test", "/", False, NOW + 11) == ""
    assert len(jar) == 0


def test_host_only_and_domain_cookies() -> None:
    jar = CookieJar()
    jar.store("h=1", "example.test", "/", NOW)
    jar.store("d=2; Domain=example.test", "example.test", "/", NOW)
    assert jar.header("www.example.test", "/", False, NOW) == "d=2"
    assert jar.header("example.test", "/", False, NOW) == "h=1; d=2"


def test_set_and_clear() -> None:
    jar = CookieJar()
    jar.set("k", "v", "example.test")
    jar.set("o", "w", "other.test")
    assert jar.header("example.test", "/x", False, NOW) == "k=v"
    jar.clear("example.test")
    assert jar.header("example.test", "/", False, NOW) == ""
    assert jar.header("other.test", "/", False, NOW) == "o=w"
    jar.clear()
    assert len(jar) == 0


def test_parse_keeps_attributes_it_needs() -> None:
    p = parse_set_cookie("a=1; Path=/p; Secure; HttpOnly; SameSite=Lax; Max-Age=3")
    assert p is not None
    assert (p.name, p.value, p.path, p.secure, p.max_age) == ("a", "1", "/p", True, 3)


def test_request_cookies_param_and_replace() -> None:
    from veza_ray.core.cookiejar import request_cookies

    spec = request_cookies({"a": "1", "b": {"value": "2", "replace": True}})
    assert spec == (("a", "1", False), ("b", "2", True))
    jar = jar_after("b=jar", "c=3")
    assert jar.header("example.test", "/", False, NOW, frozenset({"b"})) == "c=3"
    with pytest.raises(ValueError, match=r"cookies\['a'\]=5"):
        request_cookies({"a": 5})
