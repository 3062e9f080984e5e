"""A Set-Cookie line as Go's net/http reads it (``ParseSetCookie``, Go 1.24, k6 v1.1.0's),
and k6's ``res.cookies`` built from those lines. Pure: tests/unit/test_setcookie.py.

Go's reading, not a browser's: the value keeps its inner spaces (``a= 1`` is " 1"), an
attribute whose value holds a byte Go refuses is ignored, ``Max-Age=0`` (or negative)
means "delete" (-1) and one with a leading zero is ignored, ``Domain`` keeps its leading
dot, ``Expires`` is read with exactly Go's two layouts or not at all.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WS = " \t\r\n"  # textproto.TrimString
# Go's time.Time{} as Unix milliseconds (UnixNano overflows int64, then /1e6): what k6
# reports as ``expires`` for a cookie with no (readable) Expires.
GO_ZERO_EXPIRES_MS = -6795364578871
_GO_ZERO_S = -62135596800  # 0001-01-01T00:00:00Z
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# time.RFC1123 ("Mon, 02 Jan 2006 15:04:05 MST") and Go's cookie fallback with dashes.
_DATE = re.compile(
    r"([A-Za-z]{3}), (\d\d)( |-)([A-Za-z]{3})\3(\d{4}) (\d\d?):(\d\d):(\d\d) "
    r"(UTC|GMT(?:[+-]\d\d?)?|[A-Z]{3}|[A-Z]{3}T|[A-Z]{4}T|ChST|MeST|WITA)"
)


def valid_value_byte(ch: str) -> bool:
    """Go's validCookieValueByte: printable ASCII but '"', ';' and '\\'."""
    return 0x20 <= ord(ch) < 0x7F and ch not in '";\\'


def _value(raw: str, allow_quotes: bool) -> str | None:
    """Go's parseCookieValue: the value, its surrounding quotes taken off; None if refused."""
    if allow_quotes and len(raw) > 1 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return raw if all(valid_value_byte(ch) for ch in raw) else None


def go_date(text: str, dashes: bool = True) -> float | None:
    """Epoch seconds of an Expires value as Go's time.Parse reads it with time.RFC1123
    (and, with ``dashes``, "Mon, 02-Jan-2006 15:04:05 MST"); None when Go fails."""
    m = _DATE.fullmatch(text)
    if m is None or (m.group(3) == "-" and not dashes):
        return None
    wday, day, _, mon, year, hh, mm, ss, _zone = m.groups()
    if wday.lower() not in _DAYS or mon.lower() not in _MONTHS:
        return None
    month = _MONTHS.index(mon.lower()) + 1
    y, d, h, mi, s = int(year), int(day), int(hh), int(mm), int(ss)
    if h > 23 or mi > 59 or s > 59 or y < 1 or not 1 <= d <= _days_in(month, y):
        return None
    # Any zone reads as UTC: k6 v1.1.0 gives "GMT+2" and "CET" the same instant as GMT.
    return float(calendar.timegm((y, month, d, h, mi, s, 0, 0, 0)))


def _days_in(month: int, year: int) -> int:
    return calendar.monthrange(year, month)[1]


def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi: an optional sign and decimal digits, within int64."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


@dataclass
class Parsed:
    """A Set-Cookie line as Go's http.Cookie holds it (what the jar and res.cookies need).

    ``max_age`` as Go has it: 0 none given, -1 delete now, else seconds; ``expires``:
    epoch seconds, None when absent or unreadable (Go's zero time)."""

    name: str
    value: str
    domain: str = ""
    path: str = ""
    secure: bool = False
    http_only: bool = False
    max_age: int = 0
    expires: float | None = None


def parse_set_cookie(line: str) -> Parsed | None:
    """One Set-Cookie value; None when Go drops it (no '=', a bad name or value)."""
    parts = line.strip(_WS).split(";")
    if len(parts) == 1 and parts[0] == "":
        return None
    name, eq, raw = parts[0].strip(_WS).partition("=")
    name = name.strip(_WS)
    value = _value(raw, True)
    if not eq or not name or not set(name) <= _TOKEN or value is None:
        return None
    c = Parsed(name, value)
    for part in parts[1:]:
        part = part.strip(_WS)
        if not part:
            continue
        attr, _, raw_val = part.partition("=")
        val = _value(raw_val, False)
        if not attr.isascii() or val is None:
            continue
        _attribute(c, attr.lower(), val)
    return c


def _attribute(c: Parsed, attr: str, val: str) -> None:
    if attr == "secure":
        c.secure = True
    elif attr == "httponly":
        c.http_only = True
    elif attr == "domain":
        c.domain = val
    elif attr == "path":
        c.path = val
    elif attr == "max-age":
        secs = _atoi(val)
        if secs is not None and not (secs != 0 and val[0] == "0"):
            c.max_age = secs if secs > 0 else -1
    elif attr == "expires":
        c.expires = go_date(val)


def go_unix_ms(seconds: float | None) -> int:
    """k6's ``expires``: Go's ``t.UnixNano() / 1e6``, int64 overflow included (so the zero
    time, a cookie with no Expires, is -6795364578871)."""
    ns = int(_GO_ZERO_S if seconds is None else seconds) * 10**9
    ns = (ns + 2**63) % 2**64 - 2**63
    return -(-ns // 10**6) if ns < 0 else ns // 10**6


@dataclass(frozen=True)
class ResponseCookie:
    """One entry of k6's ``res.cookies[name]``, with k6's field names; ``c.value`` or
    ``c["value"]``."""

    name: str
    value: str
    domain: str
    path: str
    http_only: bool
    secure: bool
    max_age: int
    expires: int  # Unix ms as k6 gives it (GO_ZERO_EXPIRES_MS: none)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def response_cookies(lines: Iterable[str]) -> dict[str, list[ResponseCookie]]:
    """k6's ``res.cookies``: name -> the cookies of that name, in Set-Cookie order."""
    out: dict[str, list[ResponseCookie]] = {}
    for line in lines:
        p = parse_set_cookie(line)
        if p is None:
            continue
        out.setdefault(p.name, []).append(
            ResponseCookie(
                p.name,
                p.value,
                p.domain,
                p.path,
                p.http_only,
                p.secure,
                p.max_age,
                go_unix_ms(p.expires),
            )
        )
    return out
