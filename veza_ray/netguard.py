"""The host guard at connect time: resolve once, check every address, connect to those.

Every connection the tool opens (the lean client, aiohttp's connector, redirects, the
pre-flight) resolves its host through here, so the addresses checked by
``guards.address_refusal`` are the addresses connected to: there is no second lookup a
resolver could answer differently. Proxies are never used: the lean client and the
pre-flight have no proxy support and aiohttp's sessions are built with
``trust_env=False``, so ``http_proxy`` and friends cannot send a request elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from veza_ray.guards import address_refusal, is_loopback

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


class GuardedResolver(ThreadedResolver):
    """aiohttp's resolver with the same check: aiohttp connects to what this returns.

    aiohttp does not call a resolver for IP literals; ``http.TimedConnector`` checks
    those by name (an IP literal's name is its address)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__()
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        why = name_refusal(host, self.allowed)
        if why:
            raise HostRefused(why)
        hosts = await super().resolve(host, port, family)
        why = address_refusal(host, [h["host"] for h in hosts], self.allowed)
        if why:
            raise HostRefused(why)
        return hosts
