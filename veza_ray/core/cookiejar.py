"""A VU's cookie jar as k6 has it: Go's net/http/cookiejar (RFC 6265) fed by Go's
Set-Cookie reader. Pure: the caller passes the time, so the rules are a table of tests
(tests/unit/test_cookiejar.py).

What Go does and a Python SimpleCookie does not: an ``Expires`` in the past or
``Max-Age<=0`` deletes the stored cookie; unknown attributes (``Priority=High``,
``Partitioned``) are ignored, never cookies of their own; a value with spaces, commas or
``=`` is kept (sent as Go sends it: quoted when it holds a space or comma); two cookies
of one name on different paths are both kept and both sent, the longer path first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

# Go's validCookieValueByte: printable ASCII but '"', ';' and '\\' (space and comma allowed).
_BAD_VALUE = frozenset('";\\')
_TOKEN_BAD = frozenset(' \t"(),/:;<=>?@[]\\{}')


class Cookie:
    """One stored cookie (RFC 6265 section 5.3)."""

    __slots__ = ("domain", "expires", "host_only", "name", "path", "secure", "seq", "value")

    def __init__(
        self,
        name: str,
        value: str,
        domain: str,
        path: str,
        host_only: bool,
        secure: bool,
        expires: float | None,
        seq: int,
    ) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.path = path
        self.host_only = host_only
        self.secure = secure
        self.expires = expires  # epoch seconds; None: a session cookie
        self.seq = seq  # creation order, the tie-break after path length


class Parsed:
    """A Set-Cookie line as Go's readSetCookies reads it."""

    __slots__ = ("domain", "expires", "max_age", "name", "path", "secure", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value
        self.domain = ""
        self.path = ""
        self.secure = False
        self.max_age: int | None = None
        self.expires: float | None = None


def parse_set_cookie(line: str) -> Parsed | None:
    """One Set-Cookie value; None when Go would drop it (bad name or value)."""
    parts = [p.strip(" \t") for p in line.split(";")]
    name, eq, value = parts[0].partition("=")
    name = name.strip(" \t")
    if not eq or not name or any(ch in _TOKEN_BAD or ord(ch) < 0x21 for ch in name):
        return None
    value = value.strip(" \t")
    if len(value) > 1 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if any(ch in _BAD_VALUE or not 0x20 <= ord(ch) < 0x7F for ch in value):
        return None
    c = Parsed(name, value)
    for part in parts[1:]:
        key, _, val = part.partition("=")
        key, val = key.strip(" \t").lower(), val.strip(" \t")
        if key == "domain" and val:
            c.domain = val.lstrip(".").lower()
        elif key == "path":
            c.path = val
        elif key == "secure":
            c.secure = True
        elif key == "max-age":
            with contextlib.suppress(ValueError):
                c.max_age = int(val)
        elif key == "expires":
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                c.expires = parsedate_to_datetime(val).timestamp()
        # anything else (HttpOnly, SameSite, Priority, Partitioned, ...) changes nothing here
    return c


def cookie_value(value: str) -> str:
    """A value as Go writes it in a Cookie line (sanitizeCookieValue): quoted when it holds
    a space or a comma, else as received."""
    return f'"{value}"' if " " in value or "," in value else value


def default_path(path: str) -> str:
    """RFC 6265 5.1.4: the request path up to its last '/'."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def _is_ip(host: str) -> bool:
    return host.replace(".", "").isdigit() or ":" in host


def _path_match(path: str, cookie_path: str) -> bool:
    if path == cookie_path:
        return True
    if path.startswith(cookie_path):
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    return False


class CookieJar:
    """Cookies by (domain, path, name), as Go's jar keys them."""

    __slots__ = ("_cookies", "_seq")

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._cookies)

    def store(self, line: str, host: str, path: str, now: float) -> None:
        """Keep (or delete) what one Set-Cookie line from ``host``/``path`` says."""
        p = parse_set_cookie(line)
        if p is None:
            return
        host = host.lower()
        if p.domain and p.domain != host and not _domain_match(host, p.domain):
            return  # a cookie for a domain this host is not in: refused
        domain = p.domain or host
        cpath = p.path if p.path.startswith("/") else default_path(path)
        key = (domain, cpath, p.name)
        expires = p.expires
        if p.max_age is not None:
            expires = now + p.max_age if p.max_age > 0 else now - 1
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)
            return
        old = self._cookies.get(key)
        seq = old.seq if old is not None else self._next()
        self._cookies[key] = Cookie(
            p.name, p.value, domain, cpath, not p.domain, p.secure, expires, seq
        )

    def set(self, name: str, value: str, host: str, path: str = "/", now: float = 0.0) -> None:
        """``jar.set(url, name, value)``: a host-only cookie for the URL's host."""
        self._cookies[(host.lower(), path, name)] = Cookie(
            name, value, host.lower(), path, True, False, None, self._next()
        )

    def cookies_for(self, host: str, path: str, https: bool, now: float) -> list[Cookie]:
        """What a request to host/path sends: longest path first, then oldest."""
        host = host.lower()
        out = []
        for key, c in list(self._cookies.items()):
            if c.expires is not None and c.expires <= now:
                del self._cookies[key]
                continue
            if c.host_only and host != c.domain:
                continue
            if not c.host_only and not _domain_match(host, c.domain):
                continue
            if (c.secure and not https) or not _path_match(path, c.path):
                continue
            out.append(c)
        out.sort(key=lambda c: (-len(c.path), c.seq))
        return out

    def header(
        self, host: str, path: str, https: bool, now: float, skip: frozenset[str] = frozenset()
    ) -> str:
        """The Cookie header value for a request, or "" when nothing applies; ``skip``:
        names the request replaces (k6's ``replace: true``)."""
        return "; ".join(
            f"{c.name}={cookie_value(c.value)}"
            for c in self.cookies_for(host, path, https, now)
            if c.name not in skip
        )

    def clear(self, host: str | None = None) -> None:
        """Forget every cookie, or those set for one host (``jar.clear(url)``)."""
        if host is None:
            self._cookies.clear()
            return
        for key in [k for k in self._cookies if k[0] == host.lower()]:
            del self._cookies[key]

    def _next(self) -> int:
        self._seq += 1
        return self._seq


def request_cookies(raw: Mapping[str, object]) -> tuple[tuple[str, str, bool], ...]:
    """k6's ``cookies`` request param: ``{"n": "v"}`` or ``{"n": {"value": "v",
    "replace": true}}``, as (name, value, replace)."""
    out = []
    for name, spec in raw.items():
        if isinstance(spec, str):
            out.append((name, spec, False))
        elif isinstance(spec, Mapping) and isinstance(spec.get("value"), str):
            out.append((name, spec["value"], bool(spec.get("replace", False))))
        else:
            raise ValueError(
                f'cookies[{name!r}]={spec!r}: give a string, or {{"value": "...", "replace": True}}'
            )
    return tuple(out)
