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

from collections.abc import Mapping

from veza_ray.core.setcookie import Parsed, go_date, parse_set_cookie, valid_value_byte

__all__ = ["CookieJar", "Parsed", "cookie_value", "default_path", "parse_set_cookie"]


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


def cookie_value(value: str) -> str:
    """A value as Go writes it in a Cookie line (sanitizeCookieValue): the bytes Go refuses
    dropped, then quoted when it holds a space or a comma, else as received."""
    if not all(valid_value_byte(ch) for ch in value):
        value = "".join(ch for ch in value if valid_value_byte(ch))
    return f'"{value}"' if " " in value or "," in value else value


def default_path(path: str) -> str:
    """RFC 6265 5.1.4: the request path up to its last '/'."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _is_ip(host: str) -> bool:
    """Go's isIP: an IPv4 or IPv6 literal (a ':' or '%' counts as IPv6)."""
    if ":" in host or "%" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts)


def domain_and_type(host: str, domain: str) -> tuple[str, bool] | None:
    """Go's jar ``domainAndType`` (no public-suffix list, as k6's jar): the cookie's
    domain and whether it is host-only; None when the jar refuses the Domain."""
    if not domain:
        return host, True
    if _is_ip(host):
        return (host, True) if host == domain else None  # ".127.0.0.1" is refused
    domain = domain[1:] if domain.startswith(".") else domain
    if not domain or domain[0] == "." or not domain.isascii() or domain[-1] == ".":
        return None
    domain = domain.lower()
    if host != domain and not host.endswith("." + domain):
        return None
    return domain, False


def _path_match(path: str, cookie_path: str) -> bool:
    if path == cookie_path:
        return True
    if path.startswith(cookie_path):
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    return False


class CookieJar:
    """Cookies by (domain, path, name), as Go's jar keys them. ``host`` arguments are the
    URL's host, lower case; ``path`` the URL's path (the jar takes its default path)."""

    __slots__ = ("_cookies", "_seq")

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._cookies)

    def store(self, line: str, host: str, path: str, now: float) -> None:
        """Keep (or delete) what one Set-Cookie line from ``host``/``path`` says."""
        p = parse_set_cookie(line)
        if p is not None:
            self.put(p, host, path, now)

    def put(self, c: Parsed, host: str, path: str, now: float) -> None:
        """Go's ``SetCookies`` for one cookie received from (or set for) host/path:
        Max-Age first (<0 deletes), then Expires (past deletes, none: a session cookie)."""
        where = domain_and_type(host.lower(), c.domain)
        if where is None:
            return
        domain, host_only = where
        cpath = c.path if c.path.startswith("/") else default_path(path)
        key = (domain, cpath, c.name)
        expires = c.expires
        if c.max_age < 0:
            expires = now - 1
        elif c.max_age > 0:
            expires = now + c.max_age
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)
            return
        old = self._cookies.get(key)
        seq = old.seq if old is not None else self._next()
        self._cookies[key] = Cookie(
            c.name, c.value, domain, cpath, host_only, c.secure, expires, seq
        )

    def cookies_for(self, host: str, path: str, https: bool, now: float) -> list[Cookie]:
        """What a request to host/path sends: longest path first, then oldest."""
        host = host.lower()
        out = []
        for key, c in list(self._cookies.items()):
            if c.expires is not None and c.expires <= now:
                del self._cookies[key]
                continue
            if host != c.domain and (c.host_only or not host.endswith("." + c.domain)):
                continue
            if (c.secure and not https) or not _path_match(path or "/", c.path):
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

    def values_for(self, host: str, path: str, https: bool, now: float) -> dict[str, list[str]]:
        """k6's ``jar.cookiesForURL(url)``: name -> values, in the order they are sent."""
        out: dict[str, list[str]] = {}
        for c in self.cookies_for(host, path, https, now):
            out.setdefault(c.name, []).append(c.value)
        return out

    def delete(self, host: str, path: str, name: str) -> None:
        """k6's ``jar.delete(url, name)``: Go's SetCookies with Max-Age -1, so only the
        host cookie of that name stored under the URL's default path goes."""
        self._cookies.pop((host.lower(), default_path(path), name), None)

    def clear_for(self, host: str, path: str, https: bool, now: float) -> None:
        """k6's ``jar.clear(url)``: it asks the jar for the URL's cookies and sets each
        again with Max-Age -1 for that URL, which deletes only those stored as host
        cookies under the URL's default path (k6's behaviour, kept: docs/porting.md)."""
        for c in self.cookies_for(host, path, https, now):
            self.delete(host, path, c.name)

    def clear(self) -> None:
        """Forget every cookie."""
        self._cookies.clear()

    def _next(self) -> int:
        self._seq += 1
        return self._seq


def set_options(opts: Mapping[str, object] | None) -> Parsed:
    """``jar.set``'s options as k6 reads them (keys case-insensitive): path, domain,
    expires (time.RFC1123 only), max_age, secure, http_only. A bad ``expires`` raises."""
    c = Parsed("", "")
    for key, val in (opts or {}).items():
        k = key.lower()
        if k == "path":
            c.path = str(val)
        elif k == "domain":
            c.domain = str(val)
        elif k == "expires" and val:
            when = go_date(str(val), dashes=False)
            if when is None:
                raise ValueError(
                    f'unable to parse "expires" date string "{val}": use RFC 1123 '
                    '("Mon, 02 Jan 2006 15:04:05 GMT")'
                )
            c.expires = when
        elif k == "max_age":
            c.max_age = int(val)  # type: ignore[call-overload]
        elif k == "secure":
            c.secure = bool(val)
        elif k == "http_only":
            c.http_only = bool(val)
    return c


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
