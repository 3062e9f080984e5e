"""k6's ``http.batch()``: one VU's requests in parallel, the responses in request order.

As k6 (``lib/netext/httpext/batch.go``): at most ``batch`` requests in flight (option
``batch``, default 20) and at most ``batchPerHost`` to one host (default 6; 0 means no
limit for either). A request is a URL (GET), a ``(method, url)`` or ``(method, url,
kwargs)`` tuple, or a dict ``{"method", "url", **kwargs}``; a dict of requests gives a
dict of responses under the same keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from veza_ray.engine.context import vu_context

DEFAULT_BATCH = 20
DEFAULT_PER_HOST = 6


def batch_limits() -> tuple[int, int]:
    """The run's ``batch`` and ``batchPerHost`` options, as the running VU's runner has them."""
    vu = vu_context.get()
    run = getattr(vu, "run", None)
    raw: Mapping[str, Any] = run.runner.options.raw if run is not None else {}
    return int(raw.get("batch", DEFAULT_BATCH)), int(raw.get("batchPerHost", DEFAULT_PER_HOST))


def _call(item: Any) -> tuple[str, str, dict[str, Any]]:
    if isinstance(item, str):
        return "GET", item, {}
    if isinstance(item, Mapping):
        kw = dict(item)
        return str(kw.pop("method", "GET")), str(kw.pop("url")), kw
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return str(item[0]), str(item[1]), dict(item[2]) if len(item) == 3 else {}
    raise TypeError(f"a batch request is a URL, (method, url[, kwargs]) or a dict, not {item!r}")


async def run_batch(client: Any, requests: Sequence[Any] | Mapping[str, Any]) -> Any:
    """Send ``requests`` in parallel within k6's limits; the responses in the same order."""
    keys: list[str] | None = None
    if isinstance(requests, Mapping):
        keys = list(requests)
        items = [requests[k] for k in keys]
    else:
        items = list(requests)
    calls = [_call(item) for item in items]  # a bad entry is refused before anything is sent
    limit, per_host = batch_limits()
    total = asyncio.Semaphore(limit if limit > 0 else max(1, len(calls)))
    hosts: dict[str, asyncio.Semaphore] = {}

    async def one(method: str, url: str, kw: dict[str, Any]) -> Any:
        host = urlsplit(url).netloc
        sem = hosts.setdefault(host, asyncio.Semaphore(per_host if per_host > 0 else len(calls)))
        async with sem, total:
            return await client.request(method, url, **kw)

    responses = await asyncio.gather(*(one(*c) for c in calls))
    return dict(zip(keys, responses, strict=True)) if keys is not None else list(responses)
