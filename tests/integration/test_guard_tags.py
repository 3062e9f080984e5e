"""Secrets on the request path against a real loopback server: tags keep their real
values (series and thresholds match on them; only k6's own userinfo mask applies), and
header, cookie and URL secrets a VU sends or receives are known to the process's book
from then on, so every output hides them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from servers import KnownServer

from veza_ray.core.guards import SECRETS
from veza_ray.core.metric_types import Tags
from veza_ray.engine.http import ClientHub, HostGuard, HttpClient


@pytest.fixture(autouse=True)
def clean_book() -> Iterator[None]:
    SECRETS.clear()
    yield
    SECRETS.clear()


@pytest.mark.parametrize("lean", [True], ids=["lean"])  # the one client since the llhttp work
def test_url_tags_and_learned_headers(known_server: KnownServer, lean: bool) -> None:
    names: list[str] = []
    extras: list[Tags] = []

    def record(
        method: str, name: str, status: int, ok: bool, code: int, extra: Tags, *rest: object
    ) -> None:
        names.append(name)
        extras.append(extra)

    async def main() -> None:
        hub = ClientHub(guard=HostGuard(frozenset()))
        client = HttpClient(hub, record, True, timeout=5, guard=HostGuard(frozenset()))
        host = known_server.url.split("//", 1)[1]
        await client.get(
            f"http://bob:pw-in-url-{lean}@{host}/fast?api_key=k-in-query-{lean}&page=2",
            headers=[("X-Api-Key", f"hdr-key-{lean}"), ("Cookie", f"sid=ck-{lean}-value")],
        )
        await client.get(
            known_server.url + "/fast",
            headers={"Authorization": f'Digest username="bob", response="dg-{lean}-resp"'},
            tags={"team": f"hdr-key-{lean}"},
        )
        await hub.close()

    asyncio.run(main())
    host = host_of(known_server)
    assert names[0] == f"http://****:****@{host}/fast?api_key=k-in-query-{lean}&page=2"
    assert names[1] == known_server.url + "/fast"
    # identity: the real value (and k6's proto tag, set once a response came)
    assert extras[1] == (("proto", "HTTP/1.1"), ("team", f"hdr-key-{lean}"))
    # Display: what any output writes.
    assert SECRETS.redact(names[0]) == f"http://***@{host}/fast?api_key=***&page=2"
    assert SECRETS.redact_obj(extras[1]) == [["proto", "HTTP/1.1"], ["team", "***"]]
    text = f"pw-in-url-{lean} k-in-query-{lean} hdr-key-{lean} ck-{lean}-value dg-{lean}-resp"
    assert SECRETS.redact(text) == "*** *** *** *** ***"
    assert known_server.counts["fast"] == 2


def host_of(server: KnownServer) -> str:
    return server.url.split("//", 1)[1]
