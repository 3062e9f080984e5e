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
# Names with a secret word that carry no credential: an idempotency key is an id that
# may also sit in the URL (learning it would hide the path), a WebSocket key a nonce,
# WWW-Authenticate a challenge.
NOT_SECRET_HEADERS = frozenset(
    {
        "idempotency-key",
        "x-idempotency-key",
        "sec-websocket-key",
        "sec-websocket-accept",
        "www-authenticate",
        "authentication-info",
    }
)
# Query parameters whose values are hidden in url/name tags: env-style names plus these.
SECRET_PARAMS = frozenset(
    {"sig", "signature", "pwd", "pass", "passphrase", "apikey", "key", "access_token", "jwt"}
)
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
        hit = low in SECRET_HEADERS or (
            low not in NOT_SECRET_HEADERS and any(p in low for p in SECRET_HEADER_PARTS)
        )
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
    """A query or scheme parameter whose value is a credential (token, api_key, sig,
    password, access_token...). Narrower than env names: ``keyword``, ``author`` or
    ``sort_key`` are ordinary parameters, and learning their values as secrets would
    redact those words in every URL and ``name`` tag."""
    low = name.lower()
    return low in SECRET_PARAMS or is_secret_key(low)


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
    """The secret pieces of one credential header value.

    Only the credential, never the text around it: the whole value, the credential after
    its scheme (``Bearer x`` -> ``x``), the credential parameters of schemes such as
    Digest and AWS4 (``response``, ``Signature``, ``Credential`` and its key id before
    the ``/``; never ``uri``, ``realm`` or ``qop``, which are paths and words), Basic's
    decoded ``user:pass`` and password. For ``Cookie``/``Set-Cookie`` only cookie values
    (``cookie_secret_parts``): a cookie's attributes (Path, Domain, ...) are not secrets,
    and learning ``/app`` would redact every URL and ``name`` tag that holds it."""
    value = value.strip()
    low = name.lower()
    if "cookie" in low:
        return cookie_secret_parts(value, set_cookie=low == "set-cookie")
    out = [value]
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    if rest:
        out.append(rest)
        for m in _SCHEME_PARAM_RE.finditer(rest):
            if is_credential_param(m.group(1)):
                out += [m.group(2), m.group(2).split("/", 1)[0]]
        if scheme.lower() == "basic":
            try:
                plain = base64.b64decode(rest, validate=True).decode("utf-8")
            except ValueError:
                plain = ""
            if plain:
                out += [plain, plain.partition(":")[2]]
    return [p for p in out if len(p) >= MIN_SECRET_LEN]


# A scheme parameter (Digest, AWS4, OAuth...): name="value" or name=value.
_SCHEME_PARAM_RE = re.compile(r"([\w-]+)=\"?([^\",\s]+)")
# Scheme parameters that carry the credential (besides secret-named ones).
_CREDENTIAL_PARAMS = frozenset({"response", "signature", "credential", "cnonce"})


def is_credential_param(name: str) -> bool:
    """A scheme parameter whose value is (part of) the credential: Digest's ``response``,
    AWS4's ``Credential`` and ``Signature``, OAuth's ``oauth_signature``/``oauth_token``."""
    low = name.lower()
    return low in _CREDENTIAL_PARAMS or is_secret_param(low)


def cookie_secret_parts(value: str, set_cookie: bool) -> list[str]:
    """The secret values in a ``Cookie`` (every pair) or ``Set-Cookie`` (its first pair:
    the rest are attributes) header. A cookie's value is learned when its name says it is
    a credential (session, sid, token, csrf...) or the value looks like one (8+ characters
    mixing letters and digits, or 20+): ``theme=dark`` or ``lang=en-US`` must not turn
    every ``dark`` or ``en-US`` in the output into ***."""
    pairs = value.split(";")
    if set_cookie:
        pairs = pairs[:1]
    out: list[str] = []
    for part in pairs:
        k, eq, v = part.strip().partition("=")
        v = v.strip().strip('"')
        if not eq or k.strip().lower() in _COOKIE_ATTRS or len(v) < MIN_SECRET_LEN:
            continue
        if is_secret_cookie(k.strip()) or looks_like_credential(v):
            out.append(v)
    return out


# Cookie names that hold credentials beyond env-style secret names: PHPSESSID, connect.sid,
# csrftoken, XSRF-TOKEN, remember_me, jwt...
_COOKIE_SECRET_PARTS = ("SESS", "SID", "CSRF", "XSRF", "JWT", "REMEMBER", "LOGIN")


def is_secret_cookie(name: str) -> bool:
    up = name.upper()
    return is_secret_name(up) or any(p in up for p in _COOKIE_SECRET_PARTS)


_COOKIE_ATTRS = frozenset(
    {
        "path",
        "domain",
        "expires",
        "max-age",
        "samesite",
        "secure",
        "httponly",
        "priority",
        "partitioned",
        "comment",
        "version",
    }
)


def looks_like_credential(value: str) -> bool:
    """A value that is a credential by its shape: 20+ characters without spaces, or 8+
    mixing letters and digits (a session id, a token), never a word, date or number."""
    if " " in value or len(value) < 8:
        return False
    if len(value) >= 20:
        return True
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


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
# The value stops at a brace or comma too: a URL inside a threshold selector
# (``{url:...?api_key=x}``) keeps its closing brace and its next tag.
_PARAM_RE = re.compile(r"([?&;]|&amp;)([\w.\-\[\]]+)=([^&#\s'\"<>;},]*)")
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
    name, value = m.group(2), m.group(3)
    if not value or value == REDACTED or not is_secret_param(name):
        return m.group(0)
    if name.lower() in _WEAK_PARAMS and not looks_like_credential(value):
        return m.group(0)  # ?key=products: a sort key, shown (and kept apart) as it is
    return f"{m.group(1)}{m.group(2)}={REDACTED}"


def url_secrets(url: str) -> list[str]:
    """The secret values a URL carries: its password (or a bare token as userinfo), and
    the values of secret query parameters (``?key=`` only when the value looks like a
    credential: ``?key=products`` is a sort key, not an API key)."""
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
        name, value = m.group(2), m.group(3)
        if is_secret_param(name) and (
            name.lower() not in _WEAK_PARAMS or looks_like_credential(value)
        ):
            out.append(value)
    return [v for v in out if len(v) >= MIN_SECRET_LEN]


# Secret-looking parameter names that are as often ordinary (a sort key, a map key).
_WEAK_PARAMS = frozenset({"key"})


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


# A value shorter than this is redacted only where it stands alone (no letter or digit
# right before or after it): a 4-letter password "pass" must hide ``u:pass@host`` but
# must not turn the summary's own ``passes`` into ``***es`` (data destroyed, a crash in
# what reads it). Long values are random enough to be redacted wherever they appear.
SHORT_SECRET_LEN = 8
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


def _form_pattern(form: str) -> str:
    body = re.escape(form)
    if len(form) < SHORT_SECRET_LEN:
        return f"(?<![0-9a-z]){body}(?![0-9a-z])"
    return body


def _stands_alone(low: str, i: int, n: int) -> bool:
    """No letter or digit touches ``low[i:i+n]`` (``low`` is lower case)."""
    return (i == 0 or low[i - 1] not in _ALNUM) and (i + n >= len(low) or low[i + n] not in _ALNUM)


class _Matcher:
    """Every known secret form replaced by ***, case-insensitively, leftmost and longest
    first. A regex alternation for a small book (C speed); for a large one (a run whose
    target hands every VU its own session cookie: thousands of values) a set of the
    forms per length, reached through their first characters, because an alternation
    of thousands of literals costs milliseconds per string, and the driver redacts every
    label of every push. Values sharing a long prefix (JWTs all begin ``eyJhbGciOi``)
    cost a set lookup per distinct length, not a comparison per value."""

    REGEX_MAX_FORMS = 48  # measured: past ~40 literals the index is the faster

    def __init__(self, forms: Iterable[str]) -> None:
        ordered = sorted(forms, key=len, reverse=True)
        self._re: re.Pattern[str] | None = None
        self._lengths: dict[str, tuple[int, ...]] = {}
        self._forms: set[str] = set()
        if len(ordered) <= self.REGEX_MAX_FORMS:
            self._re = re.compile("|".join(map(_form_pattern, ordered)), re.IGNORECASE)
            return
        lengths: dict[str, set[int]] = {}
        odd: list[str] = []
        for f in ordered:
            low = f.lower()
            if len(low) != len(f):  # its lower case changes length: matched by regex
                odd.append(f)
                continue
            self._forms.add(low)
            lengths.setdefault(low[:MIN_SECRET_LEN], set()).add(len(low))
        self._lengths = {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}
        self._odd = re.compile("|".join(map(_form_pattern, odd)) or "(?!)", re.IGNORECASE)

    def sub(self, text: str) -> str:
        if self._re is not None:
            return self._re.sub(REDACTED, text)
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        lengths, forms, width = self._lengths, self._forms, MIN_SECRET_LEN
        out: list[str] = []
        last = i = 0
        end = len(low) - width
        while i <= end:
            sizes = lengths.get(low[i : i + width])
            if sizes is not None:
                hit = next(
                    (
                        n
                        for n in sizes
                        if low[i : i + n] in forms
                        and (n >= SHORT_SECRET_LEN or _stands_alone(low, i, n))
                    ),
                    0,
                )
                if hit:
                    out.append(text[last:i])
                    out.append(REDACTED)
                    i = last = i + hit
                    continue
            i += 1
        out.append(text[last:])
        return self._odd.sub(REDACTED, "".join(out))


class SecretBook:
    """The secret values known to this process, in every encoding, and the redactor.

    One per process (``SECRETS``): the driver fills it from the environment before the
    scenario loads; each actor does the same, then learns header, cookie and URL secrets
    as its VUs send them, and hands what it learned to the driver with each pull
    (``learned_since``), so the driver's outputs redact them too.

    Redaction is for display only: tag values, check names and URLs are recorded and
    matched as they are, and every output redacts them when it writes, with the book as
    it is then. So a secret learned late still hides text made before it was known.
    The book is the process's one piece of redaction state: ``clear`` also empties
    every memo registered with ``owns`` (the engine's tag caches), so a reset is one call.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._learned: list[str] = []  # in the order learned, for ``learned_since``
        self._checked: set[tuple[str, str]] = set()
        self._forms: set[str] = set()
        self._multiline: tuple[str, ...] = ()
        self._matcher: _Matcher | None = None
        self._stale = False
        self._memo: dict[str, str] = {}
        self._extended: dict[tuple[str, ...], tuple[int, SecretBook]] = {}
        self._owned: list[dict[Any, Any]] = getattr(self, "_owned", [])
        self.generation: int = getattr(self, "generation", 0)

    @property
    def values(self) -> tuple[str, ...]:
        """The secret values themselves, longest first."""
        return tuple(sorted(self._seen, key=len, reverse=True))

    def owns(self, memo: dict[Any, Any]) -> dict[Any, Any]:
        """Register a process-wide memo that ``clear`` empties with the book; returns it."""
        self._owned.append(memo)
        return memo

    def add(self, value: str | None) -> None:
        """Remember one secret value (with its encodings); short values are ignored."""
        if not value or value in self._seen or len(value) < MIN_SECRET_LEN:
            return
        self._seen.add(value)
        self._learned.append(value)
        self.generation += 1
        new = encodings(value) - self._forms
        if new:
            self._forms |= new
            self._stale = True  # the pattern is rebuilt at the next redact, not per add
            self._memo.clear()
            lines = tuple(f.lower() for f in new if "\n" in f or "\r" in f)
            if lines:
                self._multiline = tuple(sorted({*self._multiline, *lines}, key=len))

    def add_all(self, values: Iterable[str]) -> None:
        for value in values:
            self.add(value)

    def learned_since(self, mark: int) -> tuple[list[str], int]:
        """The values learned after ``mark`` (0 for all) and the new mark: what an actor
        hands the driver with each pull."""
        return self._learned[mark:], len(self._learned)

    def add_env(self, env: Mapping[str, str], names: Iterable[str] = ()) -> None:
        for value in secret_values(env, names):
            self.add(value)

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the credential values among request or response headers."""
        checked = self._checked
        for name, value in headers:
            key = (name, value)
            if key in checked:
                continue  # the hot path: a header seen before, secret or not
            if len(checked) < 100_000:
                checked.add(key)
            if is_secret_header(name):
                for part in header_secret_parts(name, value):
                    self.add(part)

    def learn_url(self, url: str) -> None:
        for value in url_secrets(url):
            self.add(value)

    def _current(self) -> _Matcher | None:
        if self._stale:
            self._stale = False
            self._matcher = _Matcher(self._forms)
        return self._matcher

    def redact(self, text: str) -> str:
        """``text`` with every known secret (any encoding) and every credential-shaped
        leftover (headers, userinfo, secret query values, bearer tokens) as ***."""
        if not text:
            return text
        hit = self._memo.get(text)
        if hit is not None:
            return hit
        matcher = self._current()
        out = matcher.sub(text) if matcher is not None else text
        out = redact_url(out) if ("@" in out or "=" in out) else out
        out = _pair_sub(out)
        out = _BEARER_RE.sub(lambda m: m.group(1) + " " + REDACTED, out)
        if len(text) < 2000 and len(self._memo) < 10_000:
            self._memo[text] = out
        return out

    def redact_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like structure with every string redacted; the value under a
        secret-named key (``Authorization``, ``USER_TOKEN``) is hidden whole. Two keys
        that redact alike (two series told apart only by a secret) both stay, the later
        one marked ``#2``, ``#3``...: display must not merge what was measured apart."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            out: dict[Any, Any] = {}
            for k, v in obj.items():
                key = self.redact(k) if isinstance(k, str) else k
                if key in out and key != k:
                    n = 2
                    while f"{key}#{n}" in out:
                        n += 1
                    key = f"{key}#{n}"
                secret_key = isinstance(k, str) and is_secret_key(k)
                if secret_key and isinstance(v, str) and len(v) >= MIN_SECRET_LEN:
                    out[key] = REDACTED
                else:
                    out[key] = self.redact_obj(v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj

    def unfinished(self, text: str) -> int:
        """Where in ``text`` a multi-line secret may begin that the text does not yet hold
        to its end (a PEM key printed in pieces), or ``len(text)`` when none: a line
        writer keeps the text from there until the secret is whole."""
        if not self._multiline:
            return len(text)
        low = text.lower()
        last_nl = max(low.rfind("\n"), low.rfind("\r"))
        cut = len(text)
        for form in self._multiline:
            at = low.rfind(form)
            if at >= 0 and at + len(form) > last_nl:
                cut = min(cut, at)  # whole, but its line is not finished yet
            first = form[0]
            p = low.find(first, max(0, len(low) - len(form) + 1))
            while 0 <= p < cut:
                if form.startswith(low[p:]):
                    cut = p
                    break
                p = low.find(first, p + 1)
        return cut

    def extended(self, extra: Iterable[str]) -> SecretBook:
        """This book plus ``extra`` values, as a separate book: this one learns nothing.
        Kept per set of extras until this book learns more."""
        key = tuple(sorted({v for v in extra if v}))
        if not key:
            return self
        hit = self._extended.get(key)
        if hit is not None and hit[0] == self.generation:
            return hit[1]
        book = SecretBook()
        book.add_all(self._learned)
        book.add_all(key)
        if len(self._extended) > 100:
            self._extended.clear()
        self._extended[key] = (self.generation, book)
        return book

    def clear(self) -> None:
        """Forget every secret and empty every memo registered with ``owns``: the one reset
        of this process's redaction state (tests, a new run in the same process)."""
        for memo in self._owned:
            memo.clear()
        generation = self.generation + 1
        self.__init__()  # type: ignore[misc]
        self.generation = generation


SECRETS = SecretBook()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` redacted with this process's book plus the given values, which are used
    for this text only: the book itself learns nothing here."""
    return SECRETS.extended(secrets).redact(text)


def redact_obj(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """``redact`` for a JSON-like structure."""
    return SECRETS.extended(secrets).redact_obj(obj)


class RedactingWriter:
    """A text stream that redacts secrets before passing text on.

    Actors install it over sys.stdout/sys.stderr, so what a flow prints is cleaned before
    it reaches the file descriptors Ray copies into its log files and forwards to the
    driver's terminal. Text goes on a line at a time, but a multi-line secret (a PEM key)
    is held until it is whole and then redacted as one (``SecretBook.unfinished``). It
    reads the book at each write, so secrets learned mid-run are covered from then on.
    """

    def __init__(self, inner: TextIO, book: SecretBook | None = None) -> None:
        self._inner = inner
        self._book = book or SECRETS
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" not in text and "\r" not in text:
            return len(text)
        raw = self._pending
        keep = self._book.unfinished(raw)
        cut = max(raw.rfind("\n", 0, keep), raw.rfind("\r", 0, keep)) + 1
        if cut:
            self._inner.write(self._book.redact(raw[:cut]))
            self._pending = raw[cut:]
        return len(text)

    def flush(self) -> None:
        """Pass on what is pending, except the start of a multi-line secret not yet whole."""
        if self._pending:
            keep = self._book.unfinished(self._pending)
            if keep:
                self._inner.write(self._book.redact(self._pending[:keep]))
                self._pending = self._pending[keep:]
        self._inner.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
