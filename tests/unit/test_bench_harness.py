"""The benchmark harness's pure parts: statistics, ratios, parsers and table formatting.

No timing assertions: the harness measures, these tests only check its arithmetic and text.
"""

from __future__ import annotations

import math

import pytest

from bench import harness as H
from bench.profile import fold
from bench.report import goals_section


def test_median_odd_even_and_missing() -> None:
    assert H.median([3.0, 1.0, 2.0]) == 2.0
    assert H.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert H.median([None, 5.0, None]) == 5.0
    assert H.median([float("nan"), 1.0, 3.0]) == 2.0
    assert H.median([]) is None
    assert H.median([None]) is None


def test_ratio_guards() -> None:
    assert H.ratio(10.0, 4.0) == 2.5
    assert H.ratio(None, 4.0) is None
    assert H.ratio(1.0, None) is None
    assert H.ratio(1.0, 0.0) is None


def test_paired_ratio_is_the_median_of_per_repetition_ratios() -> None:
    # a busy second repetition slows both tools: the paired ratio ignores it
    assert H.paired_ratio([8.0, 4.0, 9.0], [10.0, 5.0, 10.0]) == pytest.approx(0.8)
    assert H.paired_ratio([8.0, None], [10.0, 5.0]) == pytest.approx(0.8)
    assert H.paired_ratio([1.0], [0.0]) is None
    assert H.paired_ratio([], []) is None


def test_formatting() -> None:
    assert H.fmt_num(12345.6) == "12,346"
    assert H.fmt_num(1.26, 1) == "1.3"
    assert H.fmt_num(None) == "—"
    assert H.fmt_ratio(1.234) == "1.23×"
    assert H.fmt_ratio(None) == "—"
    assert H.fmt_pct(0.0512) == "5.1 %"
    assert H.fmt_pct(None) == "—"


def test_md_table_layout_and_escaping() -> None:
    text = H.md_table(["a", "b"], [[1, "x|y"], ["", 2.5]])
    assert text.splitlines() == [
        "| a | b |",
        "| --- | --- |",
        "| 1 | x\\|y |",
        "|  | 2.5 |",
    ]


def test_md_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="2 cells"):
        H.md_table(["a", "b", "c"], [[1, 2]])


def test_latency_fidelity_band() -> None:
    # 2 % of 50 ms + 1 ms = 2 ms either side
    assert H.within_fidelity(52.0, 50.0)
    assert H.within_fidelity(48.0, 50.0)
    assert not H.within_fidelity(52.01, 50.0)
    assert H.fidelity_gap(53.0, 50.0) == pytest.approx(1.0)
    assert H.fidelity_gap(50.5, 50.0) < 0


def test_per_vu_kb_and_rel_error() -> None:
    assert H.per_vu_kb(300_000.0, 40_000.0, 10_000) == pytest.approx(26.0)
    assert H.per_vu_kb(30_000.0, 40_000.0, 1000) == 0.0  # never negative
    assert H.per_vu_kb(None, 1.0, 10) is None
    assert H.per_vu_kb(1.0, 1.0, 0) is None
    assert H.rel_error(101.0, 100.0) == pytest.approx(0.01)
    assert H.rel_error(0.0, 0.0) == 0.0
    assert math.isinf(H.rel_error(1.0, 0.0))


def test_parse_wrk() -> None:
    out = """Running 10s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  1052346 requests in 10.00s, 151.54MB read
Requests/sec: 105218.97
Transfer/sec:     15.15MB
"""
    assert H.parse_wrk(out) == {"requests": 1052346.0, "rps": 105218.97}


def test_parse_k6_summary() -> None:
    data = {
        "metrics": {
            "http_reqs": {"count": 1000, "rate": 99.5},
            "http_req_duration": {"avg": 51.0, "med": 50.5, "p(95)": 52.0, "p(99)": 53.0},
            "http_req_failed": {"value": 0.0, "passes": 0, "fails": 1000},
        }
    }
    got = H.parse_k6_summary(data)
    assert got == {
        "requests": 1000.0,
        "rps": 99.5,
        "p50": 50.5,
        "p95": 52.0,
        "p99": 53.0,
        "avg": 51.0,
        "failed_rate": 0.0,
    }
    assert H.parse_k6_summary({}) == {}


def test_parse_locust_csv() -> None:
    text = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
        "GET,/,86000,0,5,5.5,1,40,2,8600.5,0,5,6,6,7,8,9,11,13,20,30,40\n"
        ",Aggregated,86000,0,5,5.5,1,40,2,8600.5,0,5,6,6,7,8,9,11,13,20,30,40\n"
    )
    got = H.parse_locust_csv(text)
    assert got == {
        "requests": 86000.0,
        "failures": 0.0,
        "rps": 8600.5,
        "p50": 5.0,
        "p95": 9.0,
        "p99": 13.0,
    }
    assert H.parse_locust_csv("Type,Name\n") == {}


def test_parse_wrk_latency_distribution() -> None:
    text = (
        "Running 10s test @ http://127.0.0.1:1/\n"
        "  Latency Distribution\n"
        "     50%   51.83ms\n"
        "     75%  900.00us\n"
        "     90%    1.50s\n"
        "     99%   52.54ms\n"
        "  19000 requests in 10.00s, 2.00MB read\n"
        "Requests/sec:   1900.00\n"
    )
    got = H.parse_wrk(text)
    assert got == {
        "p50": 51.83,
        "p75": 0.9,
        "p90": 1500.0,
        "p99": 52.54,
        "requests": 19000.0,
        "rps": 1900.0,
    }


def test_fold_collapsed_stacks() -> None:
    raw = (
        "main (a.py:1);request (veza_ray/engine/http.py:10);write (x.py:3) 6\n"
        "main (a.py:1);request (veza_ray/engine/http.py:12) 3\n"
        "main (a.py:1) 1\n"
    )
    total, top_self, top_incl = fold(raw)
    assert total == 10
    assert top_self[0] == {"frame": "write (x.py)", "share": 0.6}
    shares = {r["frame"]: r["share"] for r in top_incl}
    assert shares["request (veza_ray/engine/http.py)"] == pytest.approx(0.9)
    assert shares["main (a.py)"] == pytest.approx(1.0)


def test_goal_verdicts_follow_the_numbers() -> None:
    facts = {
        "vr": 9000.0,
        "k6c": 10000.0,
        "k6p": 15000.0,
        "loc": 6000.0,
        "vr10": 23.0,
        "k610": 180.0,
        "worst64": 0.5,
        "two": 0.95,
        "scale_shared_core": False,
        "within": True,
        "fid": {"p50": {"diff_ms": 0.2, "allowed_ms": 2.0, "within": True}},
    }
    text = goals_section(facts)
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    verdicts = [ln.split(" | ")[2] for ln in lines]
    assert verdicts == [
        "**not met**",  # 0.90x k6 check+Trend
        "**not met**",  # stretch: plain k6
        "**met**",  # 1.5x Locust
        "**met**",  # 23 KB/VU
        "**not met**",  # 50 % of a core
        "**met**",  # 0.95 scaling
        "**met**",  # fidelity
    ]
    assert "1,000 req/s short" in lines[0]


def test_scale_is_not_judged_where_an_actor_shares_the_target_core() -> None:
    text = goals_section({"two": 0.59, "paced_two": 1.0, "scale_shared_core": True})
    row = next(ln for ln in text.splitlines() if ln.startswith("| scale"))
    assert row.split(" | ")[2] == "not judged here"
    assert "paced scenarios: 1.00×" in row and "2 cores" in row
    text = goals_section({"two": 0.59, "paced_two": 1.0, "scale_shared_core": False})
    row = next(ln for ln in text.splitlines() if ln.startswith("| scale"))
    assert row.split(" | ")[2] == "**not met**"


def test_goal_verdicts_when_not_measured() -> None:
    text = goals_section({})
    assert text.count("not measured") == 7
