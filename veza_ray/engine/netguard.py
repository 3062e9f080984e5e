"""The host guard at connect time: resolve once, check every address, connect to those.

Every connection the tool opens (the VUs' client, each redirect hop, the pre-flight)
resolves its host through here, so the addresses checked by ``guards.address_refusal``
are the addresses connected to: there is no second lookup a resolver could answer
differently. Proxies are never used: the client has no proxy support, so ``http_proxy``
and friends cannot send a request elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from veza_ray.core.guards import address_refusal, is_loopback

AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr), as getaddrinfo


class HostRefused(Exception):
    """A connection the guard refused: nothing was sent (k6's blocked host, code 1111)."""


def name_refusal(host: str, allowed: frozenset[str]) -> str | None:
    """The check before any lookup: a name that is neither loopback nor allowed is never
    resolved (no DNS query leaves for it)."""
    name = host.lower().strip("[]").rstrip(".")
    if is_loopback(name) or name in allowed:
        return None
    return (
        f"refusing to connect to {name!r}: not a loopback address; if that is intended, "
        f"pass --allow-host {name} (or set VEZA_RAY_ALLOW_HOSTS={name})"
    )


async def resolve_checked(host: str, port: int, allowed: frozenset[str]) -> list[AddrInfo]:
    """Resolve ``host`` once and return its addresses, or raise HostRefused when the name
    or any address it resolved to is neither loopback nor allowed."""
    why = name_refusal(host, allowed)
    if why:
        raise HostRefused(why)
    bare = host.strip("[]")
    infos: list[AddrInfo]
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        loop = asyncio.get_running_loop()
        infos = list(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        infos = [(family, socket.SOCK_STREAM, 0, "", (str(ip), port))]
    why = address_refusal(host, [str(i[4][0]) for i in infos], allowed)
    if why:
        raise HostRefused(why)
    return infos
