"""k6's number, duration and size grammar, in one place: Go's strconv.ParseFloat, k6's
types.Duration (a Go duration, a day form, or a bare number of milliseconds) and byte
sizes ("32MiB", "500kB").

Pure. Options (executor durations) and thresholds (``delayAbortEval``, bounds) both read
through here, so a value means the same thing wherever a script writes it.
"""

from __future__ import annotations

import math
import re

_DEC_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_FLOAT_RE = re.compile(
    rf"""
    (?P<sign>[+-])?
    (?:
        (?P<hex>0[xX](?:_?{_HEX_DIGITS}(?:\.(?:{_HEX_DIGITS})?)?|\.{_HEX_DIGITS})
            [pP][+-]?{_DEC_DIGITS})
      | (?P<dec>(?:{_DEC_DIGITS}(?:\.(?:{_DEC_DIGITS})?)?|\.{_DEC_DIGITS})
            (?:[eE][+-]?{_DEC_DIGITS})?)
      | (?P<inf>(?i:infinity|inf))
      | (?P<nan>(?i:nan))
    )
    """,
    re.VERBOSE,
)


def parse_go_float(text: str) -> float:
    """Parse a number as Go's strconv.ParseFloat would (k6 uses it); NaN is refused.

    Raises ValueError with a reason that does not repeat the text (callers quote it).
    """
    m = _GO_FLOAT_RE.fullmatch(text)
    if m is None:
        raise ValueError("is not a number")
    if m["nan"] is not None:
        raise ValueError("is NaN, which no measurement can be compared against")
    negative = m["sign"] == "-"
    if m["inf"] is not None:
        return -math.inf if negative else math.inf
    try:
        if m["hex"] is not None:
            value = float.fromhex(m["hex"].replace("_", ""))
        else:
            value = float(m["dec"].replace("_", ""))
    except OverflowError:
        value = math.inf
    if math.isinf(value):
        raise ValueError("is out of the float64 range")
    return -value if negative else value


_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DAYS_RE = re.compile(r"([+-]?\d+)d(.*)", re.DOTALL)


def _parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds: "1h30m", "1.5s", "500ms", bare "0"."""
    body = text[1:] if text[:1] in "+-" else text
    negative = text[:1] == "-"
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    if not body:
        raise ValueError("is not a duration")
    while pos < len(body):
        m = _GO_DURATION_PART_RE.match(body, pos)
        if m is None:
            raise ValueError('is not a duration (expected e.g. "500ms", "10s", "1m30s", "1h")')
        total += float(m[1]) * _GO_DURATION_UNITS[m[2]]
        pos = m.end()
    return -total if negative else total


def parse_k6_duration(raw: object) -> float:
    """A k6 duration (types.Duration), in seconds: executor durations and
    ``delayAbortEval`` alike.

    A string is a Go duration ("10s", "1m30s"), a k6 day form ("1d12h"), or a bare number
    of milliseconds ("500"); a JSON number is milliseconds too. Negative or infinite is refused.
    Raises ValueError with a reason that does not repeat the value (callers quote it).
    """
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f'must be a duration string such as "10s", not {type(raw).__name__}')
    if isinstance(raw, (int, float)):
        seconds = float(raw) / 1000.0
    else:
        text = raw.strip()
        try:
            seconds = parse_go_float(text) / 1000.0
        except ValueError:
            days = _DAYS_RE.fullmatch(text)
            if days is None:
                seconds = _parse_go_duration(text)
            else:
                rest = _parse_go_duration(days[2]) if days[2] else 0.0
                if rest < 0:
                    raise ValueError("has a negative part after the days") from None
                day_count = int(days[1])
                seconds = day_count * 86400.0 + (-rest if day_count < 0 else rest)
    if not math.isfinite(seconds):
        raise ValueError("is not a finite duration")
    if seconds < 0:
        raise ValueError("is negative")
    return seconds


# Kept response bodies past this many bytes fail with code 1702 (maxResponseBodySize):
# far above real API and page bodies, small enough that an actor survives a hostile one.
DEFAULT_MAX_BODY = 32 * 1024 * 1024
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(value: object) -> int:
    """A byte count: an int, or a string such as "32MiB", "500kB", "1GB" (kB/MB/GB are
    powers of 1000, KiB/MiB/GiB of 1024). ValueError names what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        m = _SIZE_RE.match(value.lower())
        if m is None or m.group(2) not in _SIZE_UNITS:
            raise ValueError(f"{value!r} is not a size such as 32MiB, 500kB or 1048576")
        n = int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    else:
        raise ValueError(f"{value!r} is not a size such as 32MiB, 500kB or 1048576")
    if n <= 0:
        raise ValueError(f"{value!r} must be more than 0 bytes")
    return n
