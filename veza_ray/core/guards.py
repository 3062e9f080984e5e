"""Guard rails, pure: which hosts and addresses may be loaded, and what is a secret.

Load goes to loopback by default. Anything else (a staging host, an ``*.lxd`` container,
a test host in a namespace) must be named with ``--allow-host`` or VEZA_RAY_ALLOW_HOSTS,
so a typo in BASE_URL can never point a capacity test at the wrong machine. Two checks,
both here as pure functions: the *name* before anything is resolved (``host_refusal``),
and every *address* the name resolved to, right before connecting (``address_refusal``;
the resolving and connecting live in ``veza_ray.engine.netguard``).

Secrets are values, learned from where they come from (env names, ``--secret``,
``env(..., secret=True)``, credential headers, URL userinfo, secret query parameters) into
a ``SecretBook``; ``redact`` removes them in every encoding they take on the way out
(percent-encoded, base64, JSON-, HTML- and repr-escaped), plus text-shaped leftovers
(``Authorization: ...``, ``user:pass@``, ``?api_key=...``). Nothing else is touched: an
ordinary ``-e LIMIT_MS=1500`` prints as given.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, urlsplit

# An env var is a secret when its name contains one of these (case-insensitive).
SECRET_NAME_PARTS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "SESSION",
)
# Headers whose values are credentials, whatever the scheme.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SECRET_HEADER_PARTS = ("token", "key", "secret", "auth")
# Query parameters whose values are hidden in url/name tags: env-style names plus these.
SECRET_PARAMS = frozenset({"sig", "signature", "pwd", "pass", "passphrase", "apikey"})
# The env var that carries ``--secret`` names from the driver to the actors.
SECRET_NAMES_ENV = "VEZA_RAY_SECRETS"
REDACTED = "***"
# Shorter values are not secrets: they occur by chance in numbers and words.
MIN_SECRET_LEN = 4


# ---- hosts and addresses ------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """A loopback *name* (localhost, ``*.localhost``) or a loopback IP literal."""
    low = host.lower().rstrip(".")
    if low in ("localhost", "localhost.localdomain") or low.endswith(".localhost"):
        return True
    return is_loopback_ip(low)


def is_loopback_ip(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for anything else."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def parse_allowed(flags: Iterable[str], env_value: str | None) -> frozenset[str]:
    """--allow-host values plus the comma-separated VEZA_RAY_ALLOW_HOSTS, lower-cased."""
    hosts = {h.strip().lower().strip("[]") for h in flags if h.strip()}
    if env_value:
        hosts |= {h.strip().lower().strip("[]") for h in env_value.split(",") if h.strip()}
    return frozenset(hosts)


def _hint(host: str) -> str:
    return f"pass --allow-host {host} (or set VEZA_RAY_ALLOW_HOSTS={host})"


def host_refusal(url: str, allowed: frozenset[str]) -> str | None:
    """Why ``url``'s host may not be loaded, judged on its name, or None when it may.

    This is the first check, before any lookup: a name that is neither loopback nor
    allowed is never even resolved. The addresses are checked at connect time.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        return f"{redact_url(url)!r} is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https") or not host:
        return f"{redact_url(url)!r} is not an http(s) URL with a host"
    if is_loopback(host) or host in allowed:
        return None
    kind = (
        "a staging host"
        if host.startswith("staging.")
        else ("an LXD container host" if host.endswith(".lxd") else "not a loopback address")
    )
    return f"refusing to send load to {host!r} ({kind}); if that is intended, {_hint(host)}"


def address_refusal(host: str, addresses: Iterable[str], allowed: frozenset[str]) -> str | None:
    """Why a connection to ``host`` at these resolved ``addresses`` may not be opened.

    Allowed when the name itself was allowed (that trusts its resolution), else every
    address must be loopback or allowed by address: a ``*.localhost`` name that a hosts
    file or resolver points elsewhere is refused before any connection is tried.
    """
    name = host.lower().strip("[]").rstrip(".")
    if name in allowed:
        return None
    bad = sorted(
        {a for a in addresses if not is_loopback_ip(a) and a.lower().strip("[]") not in allowed}
    )
    if not bad:
        return None
    return (
        f"refusing to connect to {name!r}: it resolves to {', '.join(bad)}, not a loopback "
        f"address; if that is intended, {_hint(name)}"
    )


# ---- what is a secret ---------------------------------------------------------------


# Names that carry a secret word but hold a setting, not a secret: RAY_AUTH_MODE=token
# must not turn every "token" in every message into ***, which teaches users to ignore
# the marks. A setting's name ends in one of these.
SETTING_SUFFIXES = ("_MODE", "_TYPE", "_KIND", "_ENABLED", "_METHOD", "_SCHEME")


def is_secret_name(name: str) -> bool:
    """An env var (or query parameter) whose name says it holds a secret."""
    up = name.upper()
    if up.endswith(SETTING_SUFFIXES):
        return False
    return any(p in up for p in SECRET_NAME_PARTS)


_HEADER_VERDICT: dict[str, bool] = {}


def is_secret_header(name: str) -> bool:
    """Authorization, Proxy-Authorization, Cookie, Set-Cookie, or a name with
    TOKEN/KEY/SECRET/AUTH in it (X-Api-Key, X-Auth-Token, PRIVATE-TOKEN...)."""
    hit = _HEADER_VERDICT.get(name)
    if hit is None:
        low = name.lower()
        hit = low in SECRET_HEADERS or any(p in low for p in SECRET_HEADER_PARTS)
        if len(_HEADER_VERDICT) < 10_000:
            _HEADER_VERDICT[name] = hit
    return hit


def is_secret_key(name: str) -> bool:
    """A key in text or JSON whose value is a credential (``Authorization``,
    ``USER_TOKEN``, ``api_key``, ``X-Auth-Token``), narrower than ``is_secret_name`` so
    that fields such as ``metric_key`` or ``author`` keep their values."""
    low = name.lower()
    if low in SECRET_HEADERS:
        return True
    return bool(_KEY_RE.search(low)) and not low.endswith(("error", "errors"))


def is_secret_param(name: str) -> bool:
    """A query parameter whose value is hidden in url/name tags (token, api_key, sig...)."""
    low = name.lower()
    return low in SECRET_PARAMS or is_secret_name(low)


def secret_names(env: Mapping[str, str], names: Iterable[str] = ()) -> list[str]:
    """The env var names whose values are secrets: by name, by ``--secret``, and those
    the user lists in VEZA_RAY_SECRETS (the actors get the result in their settings)."""
    wanted = set(names)
    wanted |= {n.strip() for n in env.get(SECRET_NAMES_ENV, "").split(",") if n.strip()}
    return sorted(k for k in env if k != SECRET_NAMES_ENV and (k in wanted or is_secret_name(k)))


def secret_values(env: Mapping[str, str], names: Iterable[str] = ()) -> list[str]:
    """The values to hide among ``env`` (see ``secret_names``), longest first."""
    out = {env[k] for k in secret_names(env, names) if len(env[k]) >= MIN_SECRET_LEN}
    return sorted(out, key=len, reverse=True)


def header_secret_parts(name: str, value: str) -> list[str]:
    """The secret pieces of one credential header value: the whole value, the credential
    after its scheme (``Bearer x`` -> ``x``), each scheme parameter (Digest, AWS4: the
    value and its part before a ``/``), Basic's decoded ``user:pass`` and password, and
    each cookie value."""
    value = value.strip()
    out = [value]
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    if rest:
        out.append(rest)
        # Parameters of schemes such as Digest and AWS4 (k="v", k=v/scope, ...).
        for m in re.finditer(r"([\w-]+)=\"?([^\",\s]+)", rest):
            out += [m.group(2), m.group(2).split("/", 1)[0]]
        if scheme.lower() == "basic":
            try:
                plain = base64.b64decode(rest, validate=True).decode("utf-8")
            except ValueError:
                plain = ""
            if plain:
                out += [plain, plain.partition(":")[2]]
    low = name.lower()
    if "cookie" in low:
        for part in value.split(";"):
            k, eq, v = part.strip().partition("=")
            if eq and k.lower() not in _COOKIE_ATTRS:
                out.append(v.strip().strip('"'))
    return [p for p in out if len(p) >= MIN_SECRET_LEN]


_COOKIE_ATTRS = frozenset(
    {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority"}
)


def encodings(value: str) -> set[str]:
    """The forms a secret takes in output: as is, percent-encoded (quote, quote_plus; the
    book matches case-insensitively, so ``%2f`` too), JSON-, HTML- and repr-escaped, and
    base64 (a secret inside a base64 blob, such as Basic's ``user:pass``, shows as one of
    three aligned fragments)."""
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        repr(value)[1:-1],
    }
    raw = value.encode("utf-8")
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw + b"\0\0").decode()
        start, end = -(-8 * k // 6), (8 * (k + len(raw))) // 6
        frag = enc[start:end]
        if len(frag) >= 8:
            forms |= {frag, frag.replace("+", "-").replace("/", "_")}
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


# ---- redaction of text ---------------------------------------------------------------

# user:password@ (or a bare token@) in a URL.
_USERINFO_RE = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*:(?://|\\/\\/))([^/\s@'\"<>]+)@")
# A query or form parameter: name=value.
_PARAM_RE = re.compile(r"([?&;]|&amp;)([\w.\-\[\]]+)=([^&#\s'\"<>;]*)")
# A credential header or secret-named key written as text, a dict/JSON pair or a tuple.
_KEY_WORDS = (
    r"authorization|cookie|token|secret|passw(?:or)?d|credential|api[-_]?key|access[-_]?key"
    r"|private[-_]?key|secret[-_]?key|session[-_]?id"
)
_PAIR_RE = re.compile(
    rf"(?i)(?P<name>\b[\w-]*(?:{_KEY_WORDS}|auth)[\w-]*)"
    r"(?P<sep>\\?[\"']\s*[:=,]\s*|\s*[:=]\s*)(?P<q>\\?[\"'])?"
)
_KEY_RE = re.compile(rf"(?i)(?:{_KEY_WORDS})|(?:^|[-_])auth(?:[-_]|$)")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact_url(url: str) -> str:
    """A URL with its userinfo and the values of secret-named query parameters as ***."""
    if "@" in url:
        url = _USERINFO_RE.sub(lambda m: m.group(1) + REDACTED + "@", url)
    if "=" in url:
        url = _PARAM_RE.sub(_param_sub, url)
    return url


def _param_sub(m: re.Match[str]) -> str:
    if not m.group(3) or not is_secret_param(m.group(2)):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}={REDACTED}"


def url_secrets(url: str) -> list[str]:
    """The secret values a URL carries (its password or token userinfo, secret params)."""
    out: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    if parts.password:
        out.append(parts.password)
    elif parts.username:
        out.append(parts.username)
    for m in _PARAM_RE.finditer("?" + parts.query if parts.query else ""):
        if is_secret_param(m.group(2)):
            out.append(m.group(3))
    return [v for v in out if len(v) >= MIN_SECRET_LEN]


def _pair_sub(text: str) -> str:
    """Hide the value after each secret-named key, header or parameter in ``text``."""
    out: list[str] = []
    pos = 0
    for m in _PAIR_RE.finditer(text):
        if m.start() < pos:
            continue
        name = m.group("name")
        if not is_secret_key(name):
            continue
        q = m.group("q")
        start = m.end()
        if q:
            end = text.find(q, start)
            end = len(text) if end < 0 else end
        elif name.lower() in SECRET_HEADERS:
            nl = text.find("\n", start)
            end = len(text) if nl < 0 else nl
        else:
            stop = re.compile(r"[\s,;&'\"<>)}\]]").search(text, start)
            end = len(text) if stop is None else stop.start()
        if end == start:
            continue
        out.append(text[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)


class SecretBook:
    """The secret values known to this process, in every encoding, and the redactor.

    One per process (``SECRETS``): the driver fills it from the environment before the
    scenario loads; each actor does the same, then learns header, cookie and URL secrets
    as its VUs send them, so its messages are clean before they leave it.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._checked: set[str] = set()
        self._forms: set[str] = set()
        self._re: re.Pattern[str] | None = None
        self._memo: dict[str, str] = {}

    @property
    def values(self) -> tuple[str, ...]:
        """The secret values themselves, longest first."""
        return tuple(sorted(self._seen, key=len, reverse=True))

    def add(self, value: str | None) -> None:
        """Remember one secret value (with its encodings); short values are ignored."""
        if not value or value in self._seen or len(value) < MIN_SECRET_LEN:
            return
        self._seen.add(value)
        new = encodings(value) - self._forms
        if new:
            self._forms |= new
            self._re = re.compile(
                "|".join(re.escape(f) for f in sorted(self._forms, key=len, reverse=True)),
                re.IGNORECASE,
            )
            self._memo.clear()

    def add_env(self, env: Mapping[str, str], names: Iterable[str] = ()) -> None:
        for value in secret_values(env, names):
            self.add(value)

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the credential values among request or response headers."""
        checked = self._checked
        for name, value in headers:
            if value in checked:
                continue  # the hot path: a value seen before, secret or not
            if len(checked) < 100_000:
                checked.add(value)
            if is_secret_header(name):
                for part in header_secret_parts(name, value):
                    self.add(part)

    def learn_url(self, url: str) -> None:
        for value in url_secrets(url):
            self.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every known secret (any encoding) and every credential-shaped
        leftover (headers, userinfo, secret query values, bearer tokens) as ***."""
        if not text:
            return text
        hit = self._memo.get(text)
        if hit is not None:
            return hit
        out = self._re.sub(REDACTED, text) if self._re is not None else text
        out = redact_url(out) if ("@" in out or "=" in out) else out
        out = _pair_sub(out)
        out = _BEARER_RE.sub(lambda m: m.group(1) + " " + REDACTED, out)
        if len(text) < 2000 and len(self._memo) < 10_000:
            self._memo[text] = out
        return out

    def redact_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like structure with every string redacted; the value under a
        secret-named key (``Authorization``, ``USER_TOKEN``) is hidden whole."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                key = self.redact(k) if isinstance(k, str) else k
                secret_key = isinstance(k, str) and is_secret_key(k)
                if secret_key and isinstance(v, str) and len(v) >= MIN_SECRET_LEN:
                    out[key] = REDACTED
                else:
                    out[key] = self.redact_obj(v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj

    def clear(self) -> None:
        """Forget everything (tests)."""
        self.__init__()  # type: ignore[misc]


SECRETS = SecretBook()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` redacted with this process's book plus the given values."""
    for value in secrets:
        SECRETS.add(value)
    return SECRETS.redact(text)


def redact_obj(obj: Any, secrets: Iterable[str] = ()) -> Any:
    for value in secrets:
        SECRETS.add(value)
    return SECRETS.redact_obj(obj)


class RedactingWriter:
    """A text stream that redacts secrets line by line before passing text on.

    Actors install it over sys.stdout/sys.stderr, so what a flow prints is cleaned before
    Ray writes it to its log files and forwards it to the driver's terminal. It reads the
    process's book at each line, so secrets learned mid-run are covered from then on.
    """

    def __init__(self, inner: TextIO, book: SecretBook | None = None) -> None:
        self._inner = inner
        self._book = book or SECRETS
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._inner.write(self._book.redact(head + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(self._book.redact(self._pending))
            self._pending = ""
        self._inner.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
