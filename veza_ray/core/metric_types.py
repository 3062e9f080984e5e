"""Metric kinds, value types and k6's built-in metric table.

Kept apart from the sinks so the pure parsers (thresholds, options) can import the
vocabulary without pulling in digests or anything that runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class MetricType(str, Enum):
    """k6's four metric kinds; the value is k6's own spelling in summaries."""

    COUNTER = "counter"
    GAUGE = "gauge"
    RATE = "rate"
    TREND = "trend"


class ValueType(str, Enum):
    """What a metric's numbers mean (k6's "contains"): plain, milliseconds, or bytes."""

    DEFAULT = "default"
    TIME = "time"
    DATA = "data"


@dataclass(frozen=True)
class MetricDef:
    """A metric's identity: its name, kind and value type."""

    name: str
    type: MetricType
    contains: ValueType = ValueType.DEFAULT


def _builtin(name: str, kind: MetricType, contains: ValueType = ValueType.DEFAULT) -> MetricDef:
    return MetricDef(name, kind, contains)


C, G, R, T = MetricType.COUNTER, MetricType.GAUGE, MetricType.RATE, MetricType.TREND
MS, BYTES = ValueType.TIME, ValueType.DATA

BUILTIN_METRICS: dict[str, MetricDef] = {
    d.name: d
    for d in (
        _builtin("checks", R),
        _builtin("data_received", C, BYTES),
        _builtin("data_sent", C, BYTES),
        _builtin("dropped_iterations", C),
        _builtin("group_duration", T, MS),
        _builtin("http_req_blocked", T, MS),
        _builtin("http_req_connecting", T, MS),
        _builtin("http_req_duration", T, MS),
        _builtin("http_req_failed", R),
        _builtin("http_req_receiving", T, MS),
        _builtin("http_req_sending", T, MS),
        _builtin("http_req_tls_handshaking", T, MS),
        _builtin("http_req_waiting", T, MS),
        _builtin("http_reqs", C),
        _builtin("iteration_duration", T, MS),
        _builtin("iterations", C),
        _builtin("vus", G),
        _builtin("vus_max", G),
    )
}

# k6 (metrics/registry.go) accepts 2-129 ASCII letters, digits and underscores, not starting
# with a digit: one leading character and 1 to 128 more.
METRIC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{1,128}\Z")

# Tags are kept as a sorted tuple of pairs: hashable, cheap to compare, stable on the wire.
Tags = tuple[tuple[str, str], ...]


def make_tags(tags: dict[str, str]) -> Tags:
    """Freeze a tag dict into the canonical sorted-tuple form used as a series key."""
    return tuple(sorted(tags.items()))
