"""k6's trend-stat names, once, for every place that names a Trend's stats.

The summary (``summaryTrendStats`` / ``--summary-trend-stats``), the Prometheus output
(``K6_PROMETHEUS_RW_TREND_STATS``) and a Trend threshold's aggregation differ only in which
fixed names k6 accepts there; ``p(N)`` (0 <= N <= 100) is the same everywhere, and one
function computes them all (``core.metrics.trend_stat``).

- summary: k6's ``getResolversForTrendColumns``: avg, min, med, max, count, p(N)
- Prometheus remote write: the output's ``TrendStats``: count, sum, min, max, avg, med, p(N)
- thresholds on a Trend: avg, min, max, med, p(N) (their p(N) is read with Go's float
  syntax by core/thresholds.py, as k6's threshold parser does)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SUMMARY = ("avg", "min", "med", "max", "count")
PROMETHEUS = ("count", "sum", "min", "max", "avg", "med")
THRESHOLD = ("avg", "min", "max", "med")

_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")


def percentile_of(stat: str) -> float | None:
    """N of ``p(N)`` when 0 <= N <= 100, else None."""
    m = _PERCENTILE.match(stat)
    if m is None:
        return None
    n = float(m.group(1))
    return n if 0 <= n <= 100 else None


def is_stat(stat: str, fixed: Sequence[str]) -> bool:
    """Is ``stat`` one of ``fixed`` (SUMMARY, PROMETHEUS) or a valid p(N)?"""
    return stat in fixed or percentile_of(stat) is not None


def describe(fixed: Sequence[str]) -> str:
    """The accepted names, for an error message: 'avg, min, med, max, count, p(N)'."""
    return ", ".join((*fixed, "p(N)"))
