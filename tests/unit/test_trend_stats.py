"""One trend-stat grammar (core/trend_stats.py) for the summary, Prometheus and thresholds:
each place accepts what k6 accepts there, and one function computes every stat."""

from __future__ import annotations

import pytest

from veza_ray.core import trend_stats
from veza_ray.core.digest import Digest
from veza_ray.core.metric_types import MetricDef, MetricType
from veza_ray.core.metrics import trend_stat
from veza_ray.core.options import OptionsError, parse_trend_stats
from veza_ray.core.thresholds import ThresholdError, parse_thresholds
from veza_ray.outputs.prometheus import PrometheusConfigError, parse_config

URL = "http://127.0.0.1:9090/api/v1/write"


def test_sum_is_a_prometheus_stat_and_not_a_summary_one_as_in_k6() -> None:
    cfg = parse_config(URL, {"K6_PROMETHEUS_RW_TREND_STATS": "sum,p(99.9),med"}, frozenset())
    assert cfg.trend_stats == ("sum", "p(99.9)", "med")
    with pytest.raises(
        OptionsError, match=r'"sum" is not one of avg, min, med, max, count, p\(N\)'
    ):
        parse_trend_stats("avg,sum")
    with pytest.raises(PrometheusConfigError, match="count, sum, min, max, avg, med, p"):
        parse_config(URL, {"K6_PROMETHEUS_RW_TREND_STATS": "p(101)"}, frozenset())


def test_a_trend_threshold_takes_the_grammar_s_threshold_names() -> None:
    metrics = {"tt": MetricDef("tt", MetricType.TREND)}
    for stat in trend_stats.THRESHOLD:
        assert parse_thresholds({"tt": [f"{stat}<1"]}, metrics)
    with pytest.raises(ThresholdError):
        parse_thresholds({"tt": ["sum<1"]}, metrics)


@pytest.mark.parametrize(
    ("stat", "want"),
    [("avg", 2.5), ("min", 1.0), ("max", 4.0), ("count", 4.0), ("sum", 10.0), ("p(100)", 4.0)],
)
def test_one_function_computes_every_stat(stat: str, want: float) -> None:
    d = Digest()
    d.add_many([1.0, 2.0, 3.0, 4.0])
    assert trend_stat(d, stat) == pytest.approx(want)


def test_percentile_bounds() -> None:
    assert trend_stats.percentile_of("p(0)") == 0.0
    assert trend_stats.percentile_of("p(99.99)") == 99.99
    assert trend_stats.percentile_of("p(100.1)") is None
    assert trend_stats.percentile_of("p(x)") is None
