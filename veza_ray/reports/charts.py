"""Inline SVG chart builders: strings in, strings out, no JavaScript and no fonts to fetch.

The HTML report must open offline and from a CI artifact, so the charts are plain SVG
markup written here rather than a charting library from a CDN. Every label is escaped:
scenario names and threshold keys come from user files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Fmt = Callable[[float], str]

# Plot-area margins inside the SVG viewBox.
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 10, 22, 24
# Hover targets (<title> tooltips) are skipped for long series to keep the file small.
_MAX_HOVER_POINTS = 400
# Long runs are bucketed down to about this many points per series.
MAX_POINTS = 720


@dataclass(frozen=True)
class Line:
    """One plotted series; a None y breaks the line (an interval without data)."""

    label: str
    points: Sequence[tuple[float, float | None]]
    color: str
    dash: str = ""


@dataclass(frozen=True)
class Rule:
    """A horizontal threshold bound (or, on a histogram, a vertical marker)."""

    value: float
    label: str
    color: str
    dash: str = "6 4"


def _e(text: str) -> str:
    return escape(text, quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def nice_step(span: float, target: int = 4) -> float:
    """A 1-2-5 step that cuts ``span`` into about ``target`` intervals."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= mult * mag:
            return mult * mag
    return 10.0 * mag


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def time_step(span: float, target: int = 4) -> float:
    """A tick step in seconds that reads as a clock: 5s, 30s, 2m, 15m, 1h."""
    raw = span / target
    for step in _TIME_STEPS:
        if raw <= step:
            return float(step)
    return float(_TIME_STEPS[-1] * math.ceil(raw / _TIME_STEPS[-1]))


def linear_ticks(hi: float, target: int = 4, integer: bool = False) -> tuple[float, list[float]]:
    """Axis top and ticks from 0 up to at least ``hi``; ``integer`` for counts like VUs."""
    if hi <= 0 or not math.isfinite(hi):
        hi = 1.0
    step = nice_step(hi, target)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    top = step * math.ceil(hi / step - 1e-9)
    count = round(top / step)
    return top, [step * i for i in range(count + 1)]


def log_ticks(lo: float, hi: float, max_ticks: int = 7) -> tuple[float, float, list[float]]:
    """A log axis a little wider than [lo, hi], ticked at 1-2-5 values; 2s, then 5s, are
    dropped when there is no room, so decades always stay labelled."""
    lo = max(lo, 1e-6)
    hi = max(hi, lo * 1.0001)
    lo, hi = lo / 1.3, hi * 1.3
    if math.log10(hi) - math.log10(lo) < 1:  # at least one decade, centred on the data
        mid = (math.log10(hi) + math.log10(lo)) / 2
        lo, hi = 10.0 ** (mid - 0.5), 10.0 ** (mid + 0.5)
    d_lo, d_hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks: list[float] = []
    for mults in ((1.0, 2.0, 5.0), (1.0, 5.0), (1.0,)):
        ticks = [
            m * 10.0**d for d in range(d_lo, d_hi + 1) for m in mults if lo <= m * 10.0**d <= hi
        ]
        if len(ticks) <= max_ticks:
            break
    return lo, hi, ticks


def downsample(
    points: Sequence[tuple[float, float | None]], limit: int = MAX_POINTS, peak: bool = False
) -> list[tuple[float, float | None]]:
    """Bucket a long series to ``limit`` points: the mean, or the max when ``peak`` (for
    latency, so a spike is never averaged away)."""
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / limit)
    out: list[tuple[float, float | None]] = []
    for i in range(0, len(points), size):
        chunk = points[i : i + size]
        ys = [y for _, y in chunk if y is not None]
        t = chunk[len(chunk) // 2][0]
        if not ys:
            out.append((t, None))
        else:
            out.append((t, max(ys) if peak else sum(ys) / len(ys)))
    return out


def _segments(
    pts: Sequence[tuple[float, float | None]],
    sx: Callable[[float], float],
    sy: Callable[[float], float],
) -> list[list[tuple[float, float]]]:
    segs: list[list[tuple[float, float]]] = [[]]
    for x, y in pts:
        if y is None or not math.isfinite(y):
            if segs[-1]:
                segs.append([])
            continue
        segs[-1].append((sx(x), sy(y)))
    return [s for s in segs if s]


def _legend(items: Sequence[tuple[str, str, str]], width: float) -> list[str]:
    """Legend swatches along the top edge: (label, color, dash)."""
    out: list[str] = []
    x = float(_LEFT)
    for label, color, dash in items:
        text = label if len(label) <= 34 else label[:33] + "…"
        w = 22 + 5.6 * len(text)
        if x + w > width and x > _LEFT:
            break
        dash_attr = f' stroke-dasharray="{_e(dash)}"' if dash else ""
        out.append(
            f'<line x1="{_n(x)}" y1="9" x2="{_n(x + 14)}" y2="9" stroke="{_e(color)}" '
            f'stroke-width="2"{dash_attr}/>'
            f'<text x="{_n(x + 18)}" y="12" class="legend">{_e(text)}</text>'
        )
        x += w + 8
    return out


def line_chart(
    lines: Sequence[Line],
    *,
    x_max: float,
    y_fmt: Fmt,
    x_fmt: Fmt,
    rules: Sequence[Rule] = (),
    log_y: bool = False,
    width: int = 282,
    height: int = 180,
    label: str = "",
    y_floor: float = 0.0,
    integer: bool = False,
    hover: bool = True,
) -> str:
    """A time-series chart with optional threshold rules; log_y for latency, where the
    data (milliseconds) and the bounds (hundreds of ms) sit decades apart."""
    pw, ph = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    ys = [y for ln in lines for _, y in ln.points if y is not None and math.isfinite(y)]
    ys += [r.value for r in rules if math.isfinite(r.value)]
    x_hi = max([x_max, *[x for ln in lines for x, _ in ln.points], 1e-09])
    if log_y:
        positive = [y for y in ys if y > 0]
        lo, hi, yticks = log_ticks(
            min(positive, default=1.0), max(positive, default=10.0), max(2, ph // 18)
        )
        llo, lhi = math.log10(lo), math.log10(hi)

        def sy(y: float) -> float:
            v = math.log10(max(y, lo))
            return _TOP + ph - (v - llo) / (lhi - llo) * ph

    else:
        top, yticks = linear_ticks(max([*ys, y_floor]) * 1.08 if ys else y_floor, 4, integer)

        def sy(y: float) -> float:
            return _TOP + ph - (y / top) * ph

    def sx(x: float) -> float:
        return _LEFT + (x / x_hi) * pw

    parts = _frame(width, height, label, pw, ph)
    parts += [_y_grid(sy(t), pw, y_fmt(t)) for t in yticks]
    xstep = time_step(x_hi) if x_hi >= 1 else x_hi
    xt = 0.0
    while xt <= x_hi + 1e-9:
        parts.append(_x_grid(sx(xt), ph, x_fmt(xt)))
        xt += xstep
    parts += _rules(rules, sy, pw)
    for ln in lines:
        parts += _series(ln, sx, sy, x_fmt, y_fmt, hover)
    parts += _legend([(ln.label, ln.color, ln.dash) for ln in lines], width)
    parts.append("</svg>")
    return "".join(parts)


def _rules(rules: Sequence[Rule], sy: Callable[[float], float], pw: int) -> list[str]:
    """Threshold rules across the plot, their labels kept apart vertically."""
    parts: list[str] = []
    placed: list[float] = []
    for r in sorted(rules, key=lambda r: -r.value):
        y = sy(r.value)
        ly = y - 3 if y - 3 >= _TOP + 9 else y + 10  # below the line when it hugs the top
        while any(abs(ly - p) < 11 for p in placed):
            ly += 11
        placed.append(ly)
        parts.append(
            f'<line class="bound" x1="{_LEFT}" y1="{_n(y)}" x2="{_LEFT + pw}" y2="{_n(y)}" '
            f'stroke="{_e(r.color)}" stroke-dasharray="{_e(r.dash)}"/>'
            f'<text class="bound-label" x="{_LEFT + pw - 3}" y="{_n(ly)}" '
            f'text-anchor="end" fill="{_e(r.color)}">{_e(r.label)}</text>'
        )
    return parts


def _series(
    ln: Line,
    sx: Callable[[float], float],
    sy: Callable[[float], float],
    x_fmt: Fmt,
    y_fmt: Fmt,
    hover: bool,
) -> list[str]:
    """One line: its path (gaps where values are missing), a dot for a lone point, and
    hover targets with the values when the line is short enough."""
    parts: list[str] = []
    segs = _segments(ln.points, sx, sy)
    d = " ".join(
        "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in seg) for seg in segs if len(seg) > 1
    )
    dash = f' stroke-dasharray="{_e(ln.dash)}"' if ln.dash else ""
    if d:
        parts.append(
            f'<path class="series" d="{d}" fill="none" stroke="{_e(ln.color)}" '
            f'stroke-width="1.8" stroke-linejoin="round"{dash}>'
            f"<title>{_e(ln.label)}</title></path>"
        )
    for seg in segs:
        if len(seg) == 1:
            dx, dy = seg[0]
            parts.append(
                f'<circle class="dot" cx="{_n(dx)}" cy="{_n(dy)}" r="2.5" fill="{_e(ln.color)}"/>'
            )
    if hover and len(ln.points) <= _MAX_HOVER_POINTS:
        for px, py in ln.points:
            if py is None or not math.isfinite(py):
                continue
            parts.append(
                f'<circle class="hover" cx="{_n(sx(px))}" cy="{_n(sy(py))}" r="4">'
                f"<title>{_e(ln.label)} at {_e(x_fmt(px))}: {_e(y_fmt(py))}</title></circle>"
            )
    return parts


def _frame(width: int, height: int, label: str, pw: int, ph: int) -> list[str]:
    """The opening of a chart: the SVG element and the plot area's frame."""
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(label)}" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}"/>',
    ]


def _y_grid(y: float, pw: int, text: str) -> str:
    """A horizontal grid line at ``y`` with its tick label on the left."""
    return (
        f'<line class="grid" x1="{_LEFT}" y1="{_n(y)}" x2="{_LEFT + pw}" y2="{_n(y)}"/>'
        f'<text class="tick" x="{_LEFT - 4}" y="{_n(y + 3)}" text-anchor="end">{_e(text)}</text>'
    )


def _x_grid(x: float, ph: int, text: str) -> str:
    """A vertical grid line at ``x`` with its tick label below the plot."""
    return (
        f'<line class="grid" x1="{_n(x)}" y1="{_TOP}" x2="{_n(x)}" y2="{_TOP + ph}"/>'
        f'<text class="tick" x="{_n(x)}" y="{_TOP + ph + 14}" '
        f'text-anchor="middle">{_e(text)}</text>'
    )


def histogram_chart(
    bins: Sequence[tuple[float, float, float]],
    *,
    x_fmt: Fmt,
    markers: Sequence[Rule] = (),
    color: str = "#3b6fb6",
    width: int = 360,
    height: int = 200,
    label: str = "",
    note: str = "",
) -> str:
    """Bars of (lo, hi, share of samples) with vertical quantile markers."""
    pw, ph = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    if not bins:
        return ""
    x_lo, x_hi = bins[0][0], max(bins[-1][1], bins[0][0] + 1e-9)
    top, yticks = linear_ticks(max(b[2] for b in bins) * 1.1)

    def sx(x: float) -> float:
        return _LEFT + (x - x_lo) / (x_hi - x_lo) * pw

    def sy(y: float) -> float:
        return _TOP + ph - (y / top) * ph

    parts = _frame(width, height, label, pw, ph)
    parts += [_y_grid(sy(t), pw, f"{t * 100:.0f}%") for t in yticks]
    step = nice_step(x_hi - x_lo, 5)
    xt = math.ceil(x_lo / step) * step
    while xt <= x_hi + 1e-9:
        parts.append(_x_grid(sx(xt), ph, x_fmt(xt)))
        xt += step
    base = _TOP + ph
    d = []
    for lo, hi, share in bins:
        if share <= 0:
            continue
        x0, x1, y = sx(lo), max(sx(hi) - 0.6, sx(lo) + 0.6), sy(share)
        d.append(f"M{_n(x0)} {_n(base)} V{_n(y)} H{_n(x1)} V{_n(base)} Z")
    parts.append(
        f'<path class="bars" d="{" ".join(d)}" fill="{_e(color)}" fill-opacity="0.75">'
        f"<title>{_e(label)}</title></path>"
    )
    rows: list[float] = []
    for m in sorted(markers, key=lambda m: m.value):
        if not x_lo <= m.value <= x_hi:
            continue
        x = sx(m.value)
        row = 0
        while row < len(rows) and abs(rows[row] - x) < 58:
            row += 1
        if row == len(rows):
            rows.append(x)
        else:
            rows[row] = x
        anchor = "end" if x > _LEFT + pw - 40 else "start"
        dx = -3 if anchor == "end" else 3
        parts.append(
            f'<line class="marker" x1="{_n(x)}" y1="{_TOP}" x2="{_n(x)}" y2="{_n(base)}" '
            f'stroke="{_e(m.color)}" stroke-dasharray="{_e(m.dash)}"/>'
            f'<text class="bound-label" x="{_n(x + dx)}" y="{_TOP + 10 + 11 * row}" '
            f'text-anchor="{anchor}" fill="{_e(m.color)}">{_e(m.label)}</text>'
        )
    if note:
        parts.append(f'<text class="legend" x="{_LEFT}" y="12">{_e(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)
