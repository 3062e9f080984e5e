"""k6's cookie jar object (``http.cookieJar()``, ``new http.CookieJar()``) for scripts.

A thin face over core/cookiejar.py (Go's jar rules, pure) that reads URLs and the clock,
as k6's js/modules/k6/http/cookiejar.go does over Go's net/http/cookiejar. Names are
snake_case as the rest of the Python API: ``set``, ``cookies_for_url``, ``clear``,
``delete``.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time
from typing import Any

from yarl import URL

from veza_ray.core.cookiejar import CookieJar as CoreJar
from veza_ray.core.cookiejar import set_options
from veza_ray.engine.context import load_context


def _where(url: str) -> tuple[str, str, bool] | None:
    """Host, path and https of a URL; None for a scheme the jar ignores (Go: not
    http/https); a URL that does not parse raises, as in k6."""
    try:
        u = URL(url)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if u.scheme not in ("http", "https"):
        if not u.scheme:
            raise ValueError(f"{url!r} is not an absolute URL (http://host/path)")
        return None
    host = (u.host or "").lower().removesuffix(".")
    return host, u.path or "/", u.scheme == "https"


class CookieJar:
    """k6's CookieJar: ``CookieJar()`` makes a new, empty one (k6's ``new
    http.CookieJar()``, to pass as a request's ``jar=``); ``vu.http.cookie_jar()`` gives
    the VU's own. As in k6, one cannot be made while the scenario file loads."""

    __slots__ = ("_jar",)

    def __init__(self, _jar: CoreJar | None = None) -> None:
        if _jar is None and load_context.get() is not None:
            raise RuntimeError(
                "CookieJar() cannot be made while the scenario file loads (as in k6): "
                "make it inside a VU function"
            )
        self._jar = CoreJar() if _jar is None else _jar

    def cookies_for_url(self, url: str) -> dict[str, list[str]]:
        """k6's ``jar.cookiesForURL(url)``: name -> the values a request to ``url`` sends,
        in the order sent."""
        where = _where(url)
        if where is None:
            return {}
        return self._jar.values_for(*where, time())

    def set(self, url: str, name: str, value: str, opts: Mapping[str, Any] | None = None) -> bool:
        """k6's ``jar.set(url, name, value, {domain, path, expires, max_age, secure,
        http_only})``: stored as Go's jar stores a cookie received from ``url`` (so a
        Domain the URL's host is not in is ignored, an ``expires`` in the past deletes)."""
        where = _where(url)
        cookie = set_options(opts)
        cookie.name, cookie.value = str(name), str(value)
        if where is not None:
            self._jar.put(cookie, where[0], where[1], time())
        return True

    def delete(self, url: str, name: str) -> None:
        """k6's ``jar.delete(url, name)``: the host cookie ``name`` stored under the URL's
        default path goes (a cookie of that name on another path stays, as in k6)."""
        if not name:
            raise ValueError("cookie: is null")  # k6's message
        where = _where(url)
        if where is not None:
            self._jar.delete(where[0], where[1], name)

    def clear(self, url: str) -> None:
        """k6's ``jar.clear(url)``: deletes the cookies sent to ``url`` that are stored as
        host cookies under its default path (k6 v1.1.0's behaviour; docs/porting.md)."""
        where = _where(url)
        if where is not None:
            self._jar.clear_for(*where, time())

    def __repr__(self) -> str:
        return f"<CookieJar {len(self._jar)} cookies>"
