"""Number formatting shared by the HTML, Markdown and JUnit reports.

One place decides how a latency, a rate or a byte count reads, so the three outputs of
one run quote the same value the same way.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

NA = "n/a"


def ms(value: float | None) -> str:
    """A latency in milliseconds: 0.84 ms, 12.3 ms, 1.52 s."""
    if value is None or not math.isfinite(value):
        return NA
    if abs(value) >= 1000:
        return f"{value / 1000:.2f} s"
    if abs(value) >= 100:
        return f"{value:.0f} ms"
    if abs(value) >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def percent(value: float | None) -> str:
    """A rate (0..1) as a percentage; tiny non-zero rates keep two significant digits."""
    if value is None or not math.isfinite(value):
        return NA
    pct = value * 100.0
    if 0 < abs(pct) < 0.01:
        return f"{pct:.2g} %"
    return f"{pct:.2f} %"


def data(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return NA
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def number(value: float | None) -> str:
    """Counts as integers with thousands separators, other values to 4 significant digits."""
    if value is None or not math.isfinite(value):
        return NA
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def per_second(value: float | None) -> str:
    """A throughput: 3.4, 116.2, 12,604.0."""
    if value is None or not math.isfinite(value):
        return NA
    return f"{value:,.1f}"


def metric_value(value: float | None, contains: str, aggregation: str) -> str:
    """A metric's value as its kind reads: rates in %, time in ms, data in bytes."""
    if aggregation == "rate" and contains != "data":
        return percent(value)
    if aggregation == "count" or aggregation.startswith("count"):
        return number(value)
    if contains == "time":
        return ms(value)
    if contains == "data":
        return data(value)
    return number(value)


def seconds(value: float | None) -> str:
    """A duration: 9.5 s, 5m 0s, 1h 2m."""
    if value is None or not math.isfinite(value):
        return NA
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def axis_seconds(value: float) -> str:
    """A time-axis tick: 0s, 30s, 2m, 1m30s."""
    total = round(value)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h{minutes:02d}" if minutes else f"{hours}h"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"


def utc(epoch: float | None) -> str:
    if epoch is None or not math.isfinite(epoch):
        return NA
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return NA
