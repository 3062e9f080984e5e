"""The pre-flight: one GET of {BASE_URL}{health path} before any VU starts.

It uses the project's own client (``h1client``), so it goes through the same guard as the
load (name, then every resolved address) and never through a proxy; it follows
redirects only where the guard allows each hop, and the whole exchange, hops included,
has one total deadline: a server that trickles bytes cannot hold it past that. The body
is read up to readcap.HEALTH_ANSWER_CAP and no further: an endless health page is a
failed check, never the driver's memory. Any bad answer (refused hop, connection error,
malformed or oversized response, timeout, non-2xx) is one line.
"""

from __future__ import annotations

import asyncio

from yarl import URL

from veza_ray.core.guards import SECRETS, host_refusal
from veza_ray.core.redirects import MAX_REDIRECTS, is_redirect, next_url
from veza_ray.engine.h1 import BodyTooLarge, H1Error, build_head
from veza_ray.engine.h1client import ConnectFailed, Failed, H1Pool
from veza_ray.engine.netguard import HostRefused
from veza_ray.readcap import HEALTH_ANSWER_CAP, too_big

USER_AGENT = "veza-ray-preflight"


class PreflightFailed(Exception):
    """The health check failed; the message is one redacted line."""


def health_url(base_url: str, health_path: str) -> str:
    return base_url.rstrip("/") + health_path


def check(url: str, allowed: frozenset[str], timeout: float = 5.0) -> None:
    """GET ``url`` (following allowed redirects) within ``timeout`` seconds in all;
    raise PreflightFailed unless the final answer is 2xx."""
    shown = SECRETS.redact(url)
    try:
        asyncio.run(asyncio.wait_for(_get(url, allowed, timeout), timeout))
    except PreflightFailed as exc:
        raise PreflightFailed(SECRETS.redact(f"GET {shown}: {exc}")) from None
    except (TimeoutError, asyncio.TimeoutError):
        raise PreflightFailed(f"GET {shown}: no complete answer within {timeout:g}s") from None
    except Exception as exc:  # a crash here must still be one line, never a traceback
        why = f"{type(exc).__name__}: {exc}"
        raise PreflightFailed(SECRETS.redact(f"GET {shown}: {why}")) from None


async def _get(url: str, allowed: frozenset[str], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pool = H1Pool(no_reuse=True, allowed=allowed)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            refusal = host_refusal(url, allowed)
            if refusal:
                raise PreflightFailed(refusal)
            target = URL(url)
            host = target.host or ""
            scheme = target.scheme
            port = target.port or (443 if scheme == "https" else 80)
            head = build_head(
                "GET",
                target.raw_path_qs or "/",
                [
                    ("Host", target.host_port_subcomponent or host),
                    ("User-Agent", USER_AGENT),
                    ("Accept", "*/*"),
                    ("Connection", "close"),
                ],
            )
            try:
                try:
                    ex, _ = await pool.exchange(
                        (scheme, host, port),
                        "GET",
                        head,
                        None,
                        True,
                        deadline - loop.time(),
                        limit=HEALTH_ANSWER_CAP,
                    )
                except Failed as wrapped:  # an incomplete exchange: judge by what broke it
                    raise wrapped.cause from None
            except HostRefused as exc:
                raise PreflightFailed(str(exc)) from None
            except ConnectFailed as exc:
                raise PreflightFailed(
                    f"cannot connect to {exc.host}:{exc.port}: {exc.cause}"
                ) from None
            except BodyTooLarge:
                raise PreflightFailed(str(too_big("the answer", HEALTH_ANSWER_CAP))) from None
            except H1Error as exc:
                raise PreflightFailed(f"malformed answer: {exc}") from None
            except OSError as exc:
                raise PreflightFailed(f"connection failed: {exc}") from None
            status = ex.head.status
            location = next(iter(ex.head.values("location")), "")
            if is_redirect(status, location):
                nxt = next_url(url, location)
                refusal = host_refusal(nxt, allowed)
                if refusal:
                    raise PreflightFailed(
                        f"redirected ({status}) to {SECRETS.redact(nxt)}: {refusal}"
                    )
                url = nxt
                continue
            if not 200 <= status < 300:
                raise PreflightFailed(f"answered {status}")
            return
        raise PreflightFailed(f"more than {MAX_REDIRECTS} redirects")
    finally:
        await pool.close()
