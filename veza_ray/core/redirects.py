"""Redirect following, once, for the pre-flight (cluster/preflight.py) and the VU client
(engine/http.py): which answers redirect, how far, where the next hop is, and what a
hop resends. The guard on each hop is the caller's (both use core/guards.py).

As k6 does it through Go's net/http (client.go ``redirectBehavior``): 301, 302 and 303
of anything but GET/HEAD continue as a GET without the body; 307 and 308 resend the
method and the body; at most ``maxRedirects`` (default 10) hops.
"""

from __future__ import annotations

from urllib.parse import urljoin

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10  # k6's default maxRedirects


def is_redirect(status: int, location: str) -> bool:
    """An answer that sends the client on: a redirect status with a Location."""
    return status in REDIRECT_STATUSES and bool(location)


def next_url(request_url: str, location: str) -> str:
    """The next hop: ``location`` resolved against the URL just requested (RFC 3986)."""
    return urljoin(request_url.split("#", 1)[0], location)


def next_request(status: int, method: str, body: bytes | None) -> tuple[str, bytes | None]:
    """The method and body the next hop sends."""
    if status in (301, 302, 303) and method not in ("GET", "HEAD"):
        return "GET", None
    return method, body
