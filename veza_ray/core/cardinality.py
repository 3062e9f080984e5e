"""How many series a run may keep, what happens past that, and the warning that says so.

k6 counts unique time series (metric + tag set) and, past 100,000, warns that memory may
run out and that the `name` tag or URL grouping fixes it (grafana/k6
``internal/metrics/engine/ingester.go``: ``timeSeriesFirstLimit``, the limit doubling
after each warning). k6 keeps every series regardless. A veza-ray series costs more (a
t-digest per trend series, kept on every actor and on the driver, and merged every
pull), so 16,000 unique URLs took a driver to 802 MB. So here:

- the warning comes at ``WARN_SERIES`` series, in k6's words, once;
- each metric keeps at most ``MAX_SERIES_PER_METRIC`` tag sets, on every actor and on the
  driver alike; a new tag set past that is folded into an overflow series that keeps only
  the bounded system tags (``KEPT_TAGS``) and carries ``veza_ray_overflow=true``. Every
  sample is still counted, so totals (http_reqs, data, a threshold on the whole metric)
  stay exact; what is lost is the split by the folded tag values, which the outcome says.

The bench ``python -m bench.series_cost`` measures the cost per series (docs/cluster.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from veza_ray.core.metric_types import Tags

MAX_SERIES_PER_METRIC = 1000
WARN_SERIES = 5000
K6_WARN_SERIES = 100_000  # k6's timeSeriesFirstLimit, for the docs and the message
OVERFLOW_TAG = "veza_ray_overflow"
# Tags whose values a run cannot multiply without end: kept on an overflow series so a
# threshold on them (status, expected_response, ...) still counts the folded samples.
KEPT_TAGS = frozenset({"scenario", "method", "status", "expected_response", "error_code", "proto"})


def fold(tags: Tags) -> Tags:
    """The overflow tag set a series past the limit is kept under (sorted like make_tags)."""
    return tuple(sorted([*((k, v) for k, v in tags if k in KEPT_TAGS), (OVERFLOW_TAG, "true")]))


def is_overflow(tags: Tags) -> bool:
    return any(k == OVERFLOW_TAG for k, _ in tags)


def warning(count: int, limit: int = MAX_SERIES_PER_METRIC) -> str:
    """k6's warning, with veza-ray's limit and what it does past it."""
    return (
        f"The test has generated metrics with {count} unique time series, which is higher "
        f"than the suggested limit of {WARN_SERIES} and could cause high memory usage. "
        "Consider not using high-cardinality values like unique IDs as metric tags or, if "
        "you need them in the URL, use the name metric tag or URL grouping. veza-ray keeps "
        f"at most {limit} tag sets per metric; further ones are folded into series tagged "
        f"{OVERFLOW_TAG}=true (totals stay exact, the split by the folded tags is lost)."
    )


def note(folded: Mapping[str, int], limit: int = MAX_SERIES_PER_METRIC) -> str:
    """The outcome's note when something was folded; empty when nothing was."""
    if not folded:
        return ""
    parts = ", ".join(f"{name}: {n}" for name, n in sorted(folded.items()))
    return (
        f"too many series: past {limit} tag sets per metric, samples were folded into "
        f"series tagged {OVERFLOW_TAG}=true ({parts} samples); totals are exact, but a "
        "threshold selecting a folded tag value (a URL, a custom tag) did not see them. "
        "Use the `name` tag (or URL grouping) for URLs with ids"
    )


class Watch:
    """Says once, as early as the driver sees it, that the run has too many series."""

    def __init__(self, limit: int = MAX_SERIES_PER_METRIC) -> None:
        self.limit = limit
        self.warned = False

    def check(self, count: int, folded: bool) -> str:
        """The warning the first time the count passes WARN_SERIES or a series was
        folded; empty otherwise."""
        if self.warned or not (count > WARN_SERIES or folded):
            return ""
        self.warned = True
        return warning(count, self.limit)
