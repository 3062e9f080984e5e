"""The VU's cookie jar (core/cookiejar.py) against what Go's net/http/cookiejar (so k6)
does, one rule per row."""

from __future__ import annotations

import pytest

from veza_ray.core.cookiejar import CookieJar, default_path, parse_set_cookie, set_options

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
        (["a=1", "a=2; Max-Age=00"], "/", ""),  # zero, however written: delete
        (["a=1; Max-Age=05"], "/", "a=1"),  # a leading zero: Max-Age ignored (Go)
        (["a=1", "a=2; Max-Age=05; Expires=" + PAST], "/", ""),  # ... so Expires rules
        (["a=1", "a=2; Expires=Thursday, 01-Jan-70 00:00:00 GMT"], "/", "a=2"),  # unread
        (["a=1", "a=2; Expires=Thu, 01-Jan-1970 00:00:00 GMT"], "/", ""),  # Go's 2nd form
        (["a=1; Path=/x", "a=2; Path =/x"], "/x/y", "a=1; a=2"),  # "Path " is no Path
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


def _set(jar: CookieJar, host: str, url_path: str, name: str, value: str, **opts: object) -> None:
    """``jar.set(url, name, value, opts)`` as the engine does it."""
    c = set_options(opts)
    c.name, c.value = name, value
    jar.put(c, host, url_path, NOW)


def test_set_delete_and_clear_as_k6() -> None:
    """Rows checked on k6 v1.1.0 (tests/conformance/test_k6_cookie_api.py runs them)."""
    jar = CookieJar()
    _set(jar, "example.test", "/", "k", "v", path="/p", max_age=100)
    _set(jar, "example.test", "/p/q/r", "k2", "v2")  # default path: /p/q
    _set(jar, "example.test", "/", "k3", "v 3,4")
    _set(jar, "other.test", "/", "o", "w")
    _set(jar, "example.test", "/", "old", "1", expires=PAST)  # in the past: not kept
    _set(jar, "example.test", "/", "sec", "1", secure=True)
    _set(jar, "example.test", "/", "dom", "1", domain=".example.test")
    assert jar.values_for("example.test", "/p/q/r", False, NOW) == {
        "k2": ["v2"], "k": ["v"], "k3": ["v 3,4"], "dom": ["1"],
    }  # fmt: skip
    assert jar.header("example.test", "/p/q/r", False, NOW) == 'k2=v2; k=v; k3="v 3,4"; dom=1'
    assert "sec" in jar.values_for("example.test", "/", True, NOW)
    assert jar.values_for("www.example.test", "/", False, NOW) == {"dom": ["1"]}
    jar.delete("example.test", "/", "k")  # k lives under /p, not "/": kept, as in k6
    jar.delete("example.test", "/x", "k3")
    assert list(jar.values_for("example.test", "/p/q/r", False, NOW)) == ["k2", "k", "dom"]
    jar.clear_for("example.test", "/p/q/r", False, NOW)  # only what /p/q holds as host cookie
    assert list(jar.values_for("example.test", "/p/q/r", False, NOW)) == ["k", "dom"]
    assert jar.header("other.test", "/", False, NOW) == "o=w"
    jar.clear()
    assert len(jar) == 0


@pytest.mark.parametrize(
    ("opts", "kept"),
    [
        ({}, True),
        ({"max_age": 0}, True),  # 0: no Max-Age (a session cookie), not "delete"
        ({"max_age": -1}, False),
        ({"expires": FUTURE}, True),
        ({"expires": PAST}, False),
        ({"max_age": 10, "expires": PAST}, True),  # Max-Age wins
        ({"domain": "other.test"}, False),
        ({"Path": "/only"}, False),  # keys case-insensitive, as k6; another path
    ],
)
def test_set_options(opts: dict[str, object], kept: bool) -> None:
    jar = CookieJar()
    _set(jar, "example.test", "/", "a", "1", **opts)
    assert ("a" in jar.values_for("example.test", "/", False, NOW)) is kept


def test_set_refuses_an_expires_go_cannot_read() -> None:
    with pytest.raises(ValueError, match="unable to parse"):
        set_options({"expires": "Thursday, 01-Jan-70 00:00:00 GMT"})
    with pytest.raises(ValueError, match="unable to parse"):
        set_options({"expires": "Thu, 01-Jan-1970 00:00:00 GMT"})  # Set-Cookie only


def test_ip_hosts_take_no_dotted_domain() -> None:
    """Go's jar: on an IP host a Domain must be the IP itself (then host-only)."""
    jar = CookieJar()
    jar.store("a=1; Domain=.127.0.0.1", "127.0.0.1", "/", NOW)
    jar.store("b=1; Domain=127.0.0.1", "127.0.0.1", "/", NOW)
    assert jar.header("127.0.0.1", "/", False, NOW) == "b=1"


def test_sent_values_drop_bytes_go_refuses() -> None:
    """A value set through the API is kept as given, sent as Go sanitises it."""
    jar = CookieJar()
    _set(jar, "example.test", "/", "semi", 'a;b"c\\d')
    assert jar.values_for("example.test", "/", False, NOW) == {"semi": ['a;b"c\\d']}
    assert jar.header("example.test", "/", False, NOW) == "semi=abcd"


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


def test_script_jar_reads_urls_as_k6() -> None:
    """engine/cookies.py: the jar object scripts get (k6's CookieJar)."""
    from veza_ray.engine.context import LoadContext, load_context
    from veza_ray.engine.cookies import CookieJar as ScriptJar

    jar = ScriptJar()
    assert jar.set("http://Example.TEST./a/b", "s", "1") is True  # host canonical, as Go
    assert jar.cookies_for_url("http://example.test/a/x") == {"s": ["1"]}
    assert jar.cookies_for_url("http://example.test/") == {}  # default path /a
    assert jar.cookies_for_url("ftp://example.test/a/x") == {}  # Go: not http(s)
    jar.set("ftp://example.test/", "f", "1")  # ignored, as Go's jar
    with pytest.raises(ValueError, match="not an absolute URL"):
        jar.cookies_for_url("/a/x")
    with pytest.raises(ValueError, match="cookie: is null"):
        jar.delete("http://example.test/a/b", "")
    jar.delete("http://example.test/a/b", "s")
    assert jar.cookies_for_url("http://example.test/a/x") == {}
    token = load_context.set(LoadContext(env={}))
    try:
        with pytest.raises(RuntimeError, match="while the scenario file loads"):
            ScriptJar()
    finally:
        load_context.reset(token)
