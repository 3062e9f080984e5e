"""Guard rails, pure: which hosts may be loaded, and keeping secrets out of output.

Load goes to loopback by default. Anything else (a staging host, an ``*.lxd`` container,
a test host in a namespace) must be named with ``--allow-host`` or VEZA_RAY_ALLOW_HOSTS,
so a typo in BASE_URL can never point a capacity test at the wrong machine.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit

SECRET_NAME_PARTS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
REDACTED = "***"
_AUTH_RE = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)((?:bearer|basic|token)\s+)?[^\s\"',}]+"
)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_allowed(flags: Iterable[str], env_value: str | None) -> frozenset[str]:
    """--allow-host values plus the comma-separated VEZA_RAY_ALLOW_HOSTS, lower-cased."""
    hosts = {h.strip().lower() for h in flags if h.strip()}
    if env_value:
        hosts |= {h.strip().lower() for h in env_value.split(",") if h.strip()}
    return frozenset(hosts)


def host_refusal(url: str, allowed: frozenset[str]) -> str | None:
    """Why ``url`` may not be loaded, or None when it may (loopback or explicitly allowed)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"BASE_URL {url!r} is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"BASE_URL {url!r} is not an http(s) URL with a host"
    host = parts.hostname.lower()
    if is_loopback(host) or host in allowed:
        return None
    kind = (
        "a staging host"
        if host.startswith("staging.")
        else ("an LXD container host" if host.endswith(".lxd") else "not a loopback address")
    )
    return (
        f"refusing to send load to {host!r} ({kind}); if that is intended, "
        f"pass --allow-host {host} (or set VEZA_RAY_ALLOW_HOSTS={host})"
    )


def secret_values(env: Mapping[str, str], names: Iterable[str] = ()) -> list[str]:
    """The values to hide: USER_TOKEN and every variable whose name says it is a secret."""
    wanted = set(names) | {"USER_TOKEN"}
    out = {
        v
        for k, v in env.items()
        if v and len(v) >= 4 and (k in wanted or any(p in k.upper() for p in SECRET_NAME_PARTS))
    }
    return sorted(out, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value and any Authorization header value with ***."""
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return _AUTH_RE.sub(lambda m: m.group(1) + (m.group(2) or "") + REDACTED, text)


class RedactingWriter:
    """A text stream that redacts secrets line by line before passing text on.

    Actors install it over sys.stdout/sys.stderr, so what a flow prints is cleaned before
    Ray forwards it to the driver's terminal.
    """

    def __init__(self, inner: TextIO, secrets: Iterable[str]) -> None:
        self._inner = inner
        self._secrets = list(secrets)
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._inner.write(redact(head + "\n", self._secrets))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(redact(self._pending, self._secrets))
            self._pending = ""
        self._inner.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def redact_obj(obj: Any, secrets: Iterable[str]) -> Any:
    """A copy of a JSON-like structure with every string (keys too) redacted."""
    values = list(secrets)
    if isinstance(obj, str):
        return redact(obj, values)
    if isinstance(obj, dict):
        return {redact_obj(k, values): redact_obj(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_obj(v, values) for v in obj]
    return obj
