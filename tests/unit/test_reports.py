"""The HTML, JUnit and Markdown reports, rendered from a real run's summary.

The fixture is the summary JSON of a real short demo run of the Veza gate (trimmed
centroids, rounded floats). Variants flip one threshold, lose an actor, strip the
veza-ray extras or inject markup, and every renderer must say the same thing about them.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from veza_ray.core import exitcodes
from veza_ray.reports import append_step_summary, charts, render_html, render_junit, render_markdown
from veza_ray.reports.command import load_summary, report, write_reports
from veza_ray.reports.html import histogram_bins
from veza_ray.reports.markdown import md_code, md_text
from veza_ray.reports.model import Distribution, build, parse_expression, parse_selector

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "summary_veza_mixed.json"
SCENARIOS = ["upload", "streaming", "browse", "checkout"]
BROWSE_KEY = "http_req_duration{scenario:browse}"


@pytest.fixture
def summary() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def failing(summary: dict[str, Any], observed: float = 612.3) -> dict[str, Any]:
    """The fixture with browse's p(95)<400 crossed, as the driver would have written it."""
    s = copy.deepcopy(summary)
    s["metrics"][BROWSE_KEY]["thresholds"]["p(95)<400"]["ok"] = False
    s["metrics"][BROWSE_KEY]["values"]["p(95)"] = observed
    for v in s["veza_ray"]["verdicts"]:
        if v["metric_key"] == BROWSE_KEY:
            v["ok"], v["observed"] = False, observed
    return s


def lost(summary: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(summary)
    s["veza_ray"]["lost_actors"] = [
        {
            "id": 1,
            "address": "192.0.2.3",
            "node_id": "n2",
            "vus": {"browse": 1},
            "at_s": 4.2,
            "why": "node died",
            "replaced_by": None,
        }
    ]
    s["veza_ray"]["lost_vu_seconds"] = 3.8
    s["veza_ray"]["actors"][1]["lost"] = True
    return s


def k6_only(summary: dict[str, Any]) -> dict[str, Any]:
    """What k6 itself writes: no veza_ray extras at all."""
    s = copy.deepcopy(summary)
    del s["veza_ray"]
    return s


# ---- the model ---------------------------------------------------------------------------


def test_selector_and_expression_parsing() -> None:
    assert parse_selector("http_req_duration{scenario:browse}") == (
        "http_req_duration",
        (("scenario", "browse"),),
    )
    assert parse_selector("http_reqs") == ("http_reqs", ())
    assert parse_expression("p(95)<500") == ("p(95)", "<", 500.0)
    assert parse_expression(" p( 99.9 ) <= 1.5e3 ") == ("p(99.9)", "<=", 1500.0)
    assert parse_expression("rate<0.005") == ("rate", "<", 0.005)
    assert parse_expression("garbage")[2] is None


def test_model_reads_the_real_summary(summary: dict[str, Any]) -> None:
    r = build(summary)
    assert r.scenarios == SCENARIOS
    assert r.verdict.ok and r.verdict.exit_code == exitcodes.OK
    assert len(r.thresholds) == 10 and all(t.observed is not None for t in r.thresholds)
    # The run was saturated on this 2-core box: a warning, not a failure (exit 0).
    assert any("saturated" in w for w in r.verdict.warnings)
    stats = {s.name: s for s in r.stats}
    assert sum(s.requests or 0 for s in r.stats) == r.overall.requests
    # upload has no latency sub-metric and the digest grid has no p(95): interpolated.
    dist = r.distributions["upload"]
    assert dist.exact(95.0) is None
    p94, p96 = dist.exact(94.0), dist.exact(96.0)
    assert p94 is not None and p96 is not None
    assert stats["upload"].p95 is not None and p94 <= stats["upload"].p95 <= p96
    # browse has a sub-metric: its exact p(95) wins over interpolation.
    assert stats["browse"].p95 == summary["metrics"][BROWSE_KEY]["values"]["p(95)"]


def test_the_all_row_reads_p99_from_the_whole_runs_digest(summary: dict[str, Any]) -> None:
    """k6's default trend stats have no p(99): the "all" row and the p99 card read the whole
    run's merged digest instead of showing n/a; a value k6's stats do carry still wins."""
    s = copy.deepcopy(summary)
    lat = s["metrics"]["http_req_duration"]["values"]
    lat.pop("p(99)", None)
    assert build(s).overall.p99 is None  # the fixture predates the whole-run digest
    grid = {"p(50)": 5.0, "p(95)": 70.0, "p(99)": 123.0}
    s["veza_ray"]["overall_distribution"] = {"count": 10, "quantiles": grid, "centroids": []}
    o = build(s).overall
    assert o.p99 == 123.0
    assert o.p95 == lat["p(95)"] != 70.0 and o.p50 == lat["med"]


def test_verdict_without_the_verdicts_key_reads_metrics(summary: dict[str, Any]) -> None:
    s = failing(summary)
    del s["veza_ray"]["verdicts"]
    r = build(s)
    crossed = [t for t in r.thresholds if not t.ok]
    assert [(t.metric_key, t.expression, t.observed, t.bound) for t in crossed] == [
        (BROWSE_KEY, "p(95)<400", 612.3, 400.0)
    ]
    assert r.verdict.exit_code == exitcodes.THRESHOLDS_FAILED


def test_lost_load_fails_with_103_when_thresholds_pass(summary: dict[str, Any]) -> None:
    r = build(lost(summary))
    assert not r.verdict.ok and r.verdict.exit_code == exitcodes.LOST_LOAD
    # an older summary's verdict is core/outcome's decision, in the run's own words
    assert r.verdict.reasons == [
        "actor 1 on 192.0.2.3 stopped at 4.2 s: lost: node died",
        "4 VU-seconds planned but not delivered",
    ]


# ---- HTML ----------------------------------------------------------------------------------

_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|@import""",
    re.IGNORECASE,
)


def _scenario_block(html: str, name: str) -> str:
    m = re.search(
        r'<div class="scenario"><h3>' + re.escape(name) + r"</h3>(.*?)</div></div>", html, re.S
    )
    assert m, f"no time-series block for {name}"
    return m.group(1)


def test_html_pass(summary: dict[str, Any]) -> None:
    html = render_html(summary)
    assert html.startswith("<!DOCTYPE html>")
    assert 'data-verdict="PASS"' in html and ">PASS<" in html
    assert "all 10 thresholds passed" in html
    assert "load generators saturated" in html  # the warning is in the banner
    for t in summary["veza_ray"]["verdicts"]:
        assert f"<code>{t['metric_key']}</code>" in html
    # measured value beside the bound: global p95 14.0 ms against < 500 ms
    row = re.search(r"<tr class=\"ok\">.*?p\(95\)&lt;500.*?</tr>", html, re.S)
    assert row and "14.0 ms" in row.group(0) and "&lt; 500 ms" in row.group(0)
    for section in (
        "Thresholds",
        "Over the run",
        "Latency distribution",
        "Load generators",
        "Nodes",
        "Actors",
        "Checks",
        "Run and options",
    ):
        assert f">{section}</h" in html
    assert "&quot;discardResponseBodies&quot;: true" in html  # the options, as JSON


def test_html_fail_names_the_threshold_and_measured_value(summary: dict[str, Any]) -> None:
    html = render_html(failing(summary))
    assert 'data-verdict="FAIL"' in html and ">FAIL<" in html
    assert "1 of 10 thresholds crossed" in html
    assert "exit code 99" in html
    reason = re.search(r'<li class="reason">(.*?)</li>', html)
    assert reason and BROWSE_KEY in reason.group(1) and "612 ms" in reason.group(1)
    assert re.search(r'<tr class="bad">.*?scenario:browse.*?612 ms.*?&lt; 400 ms', html, re.S)


def test_html_has_no_external_resources(summary: dict[str, Any]) -> None:
    for s in (summary, failing(summary), lost(summary), k6_only(summary)):
        html = render_html(s)
        assert not _EXTERNAL.search(html), _EXTERNAL.search(html)
        assert "<script" not in html.lower()
        assert "<link" not in html.replace('<link rel="icon" href="data:,">', "")


def test_html_charts_have_content_and_bounds(summary: dict[str, Any]) -> None:
    html = render_html(summary)
    assert html.count('<svg class="chart"') == 4 * len(SCENARIOS) + len(SCENARIOS)
    for name in SCENARIOS:
        block = _scenario_block(html, name)
        paths = re.findall(r'<path class="series" d="([^"]*)"', block)
        assert len(paths) == 5, name  # req/s, p95, p99, failed rate, VUs
        for d in paths:
            assert re.match(r"M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)+", d), d
        # global bounds on every scenario's latency and error charts
        assert "p(95)&lt;500 (global)" in block and "p(99)&lt;1500 (global)" in block
        assert "rate&lt;0.005 (global)" in block
        own = f"http_req_duration{{scenario:{name}}}" in summary["metrics"]
        assert (f"({name})</text>" in block) == own
    # browse's own bound is drawn on browse's chart only
    assert "p(95)&lt;400 (browse)" in _scenario_block(html, "browse")
    assert "p(95)&lt;400 (browse)" not in _scenario_block(html, "streaming")
    bars = re.findall(r'<path class="bars" d="([^"]*)"', html)
    assert len(bars) == len(SCENARIOS) and all(b.startswith("M") for b in bars)


def test_html_escapes_everything_from_the_summary(summary: dict[str, Any]) -> None:
    evil = '<script>alert("x")</script>'
    s = copy.deepcopy(summary)
    s["root_group"]["checks"][0]["name"] = evil
    s["veza_ray"]["errors"] = {evil: 3, "a & b": 1}
    s["veza_ray"]["options"]["scenarios"]["browse"]["exec"] = evil
    s["veza_ray"]["scenarios"][2] = evil
    for point in s["veza_ray"]["intervals"]:
        point["scenarios"][evil] = point["scenarios"].pop("browse")
    s["veza_ray"]["distributions"][evil] = s["veza_ray"]["distributions"].pop("browse")
    s["veza_ray"]["actors"][0]["address"] = evil
    html = render_html(s)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "a &amp; b" in html
    md = render_markdown(s)
    outside_code = re.sub(r"(`+).*?\1", "", md)
    assert not re.search(r"(?<!\\)<", outside_code)  # every < is backslash-escaped
    assert "\\<script\\>" in md
    ET.fromstring(render_junit(s))


def test_html_without_veza_ray_extras(summary: dict[str, Any]) -> None:
    html = render_html(k6_only(summary))
    assert 'data-verdict="PASS"' in html
    assert "no per-interval series" in html
    assert "does not carry the options" in html
    assert "p(95)&lt;400" in html


def test_html_lost_load(summary: dict[str, Any]) -> None:
    html = render_html(lost(summary))
    assert 'data-verdict="FAIL"' in html and "exit code 103" in html
    assert "Lost actors" in html and "node died" in html


def test_long_runs_are_downsampled(summary: dict[str, Any]) -> None:
    s = copy.deepcopy(summary)
    base = s["veza_ray"]["intervals"][1:]
    s["veza_ray"]["intervals"] = [
        {**copy.deepcopy(base[i % len(base)]), "t": float(i)} for i in range(5000)
    ]
    s["veza_ray"]["run"]["duration_s"] = 5000.0
    html = render_html(s)
    block = _scenario_block(html, "browse")
    d = re.findall(r'<path class="series" d="([^"]*)"', block)[0]
    assert d.count("L") < charts.MAX_POINTS
    assert len(html) < 2_000_000


# ---- JUnit ---------------------------------------------------------------------------------


def _cases(xml: str) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.fromstring(xml)
    return root, root.findall("./testsuite/testcase")


def test_junit_pass(summary: dict[str, Any]) -> None:
    root, cases = _cases(render_junit(summary))
    assert root.tag == "testsuites"
    thresholds = [c for c in cases if c.get("classname", "").startswith("thresholds.")]
    checks = [c for c in cases if c.get("classname") == "checks"]
    assert len(thresholds) == 10 and len(checks) == len(summary["root_group"]["checks"])
    assert len(cases) == 10 + len(checks) + 1  # + "planned load delivered"
    assert root.get("tests") == str(len(cases)) and root.get("failures") == "0"
    assert not root.findall(".//failure")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "PASS" and props["exit_code"] == "0"


def test_junit_fail_carries_measured_value_and_bound(summary: dict[str, Any]) -> None:
    root, _ = _cases(render_junit(failing(summary)))
    assert root.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1
    msg = failures[0].get("message", "")
    assert BROWSE_KEY in msg and "612 ms" in msg and "< 400 ms" in msg
    assert "612.3" in (failures[0].text or "")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "FAIL" and props["exit_code"] == "99"


def test_junit_failing_check_and_lost_load(summary: dict[str, Any]) -> None:
    s = lost(summary)
    s["root_group"]["checks"][0]["fails"] = 5
    root, _ = _cases(render_junit(s))
    kinds = sorted(f.get("type", "") for f in root.iter("failure"))
    assert kinds == ["CheckFailed", "LostLoad"]
    check = next(f for f in root.iter("failure") if f.get("type") == "CheckFailed")
    assert "fails=5" in check.get("message", "") and "passes=" in check.get("message", "")


def test_junit_survives_control_characters(summary: dict[str, Any]) -> None:
    s = failing(summary)
    s["root_group"]["checks"][0]["name"] = "bad\x00name\x1b]"
    s["root_group"]["checks"][0]["fails"] = 1
    root, _ = _cases(render_junit(s))
    assert any(c.get("name") == "badname]" for c in root.iter("testcase"))


# ---- Markdown --------------------------------------------------------------------------------


def _table_rows(md: str, header_start: str) -> list[str]:
    lines = md.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith(header_start))
    rows = []
    for ln in lines[i + 2 :]:
        if not ln.startswith("|"):
            break
        rows.append(ln)
    return rows


def test_markdown_pass(summary: dict[str, Any]) -> None:
    md = render_markdown(summary)
    first = md.splitlines()[0]
    assert first.startswith("### ✅ veza-ray: PASS") and "(exit 0)" in first
    rows = _table_rows(md, "| scenario |")
    assert [r.split("|")[1].strip() for r in rows] == ["**all**", *SCENARIOS]
    for r in rows:
        assert r.count("|") == 7 and " ms |" in r and " % |" in r
    thr = _table_rows(md, "| | metric |")
    assert len(thr) == 10 and all(r.startswith("| ✅ |") for r in thr)
    assert "| `http_req_duration{scenario:browse}` | `p(95)<400` |" in md


def test_markdown_fail(summary: dict[str, Any]) -> None:
    md = render_markdown(failing(summary))
    assert md.startswith("### ❌ veza-ray: FAIL") and "(exit 99)" in md.splitlines()[0]
    bad = [r for r in _table_rows(md, "| | metric |") if r.startswith("| ❌ |")]
    assert len(bad) == 1 and "612 ms" in bad[0] and "400 ms" in bad[0]


def test_markdown_escaping() -> None:
    assert md_text("a|b <x> *y*") == "a\\|b \\<x\\> \\*y\\*"
    assert md_code("p(95)<400") == "`p(95)<400`"
    assert md_code("a`b|c") == "``a`b\\|c``"
    assert md_text("two\nlines") == "two lines"


def test_append_step_summary(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    assert not append_step_summary("x", environ={})
    assert append_step_summary("first", environ={"GITHUB_STEP_SUMMARY": str(target)})
    assert append_step_summary("second\n", environ={"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text() == "first\nsecond\n"


# ---- report_cli --------------------------------------------------------------------------------


def test_report_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html, junit, md = tmp_path / "r.html", tmp_path / "sub" / "j.xml", tmp_path / "s.md"
    assert report(str(FIXTURE), str(html), str(junit), str(md)) == exitcodes.OK
    assert 'data-verdict="PASS"' in html.read_text()
    ET.parse(junit)
    assert md.read_text().startswith("### ✅ veza-ray: PASS")
    assert capsys.readouterr().out == ""
    assert report(str(FIXTURE), None, None, "-") == exitcodes.OK
    assert capsys.readouterr().out.startswith("### ✅ veza-ray: PASS")
    # no output named: the Markdown goes to stdout
    assert report(str(FIXTURE), None, None, None) == exitcodes.OK
    assert "| scenario |" in capsys.readouterr().out


def test_report_renders_a_failed_run_without_failing_itself(
    tmp_path: Path, summary: dict[str, Any]
) -> None:
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(failing(summary)))
    out = tmp_path / "r.html"
    assert report(str(path), str(out), None, None) == exitcodes.OK
    assert 'data-verdict="FAIL"' in out.read_text()


def test_report_refuses_what_is_not_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(str(tmp_path / "missing.json"), None, None, "-") == exitcodes.INVALID_CONFIG
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert report(str(bad), None, None, "-") == exitcodes.INVALID_CONFIG
    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a k6/veza-ray summary"):
        load_summary(str(other))
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert report(str(FIXTURE), str(blocked / "r.html"), None, None) == exitcodes.INVALID_CONFIG


def test_write_reports_markdown_to_a_callback(summary: dict[str, Any]) -> None:
    got: list[str] = []
    assert write_reports(summary, markdown="-", out=got.append) == []
    assert len(got) == 1 and got[0].startswith("### ✅")


# ---- chart helpers -----------------------------------------------------------------------------


def test_line_chart_breaks_on_gaps_and_draws_rules() -> None:
    svg = charts.line_chart(
        [charts.Line("p95", [(0, 1.0), (1, 2.0), (2, None), (3, 4.0), (4, 5.0)], "#000")],
        x_max=4,
        y_fmt=str,
        x_fmt=str,
        rules=[charts.Rule(400.0, "p(95)<400", "#f00")],
        log_y=True,
    )
    d = re.search(r'class="series" d="([^"]*)"', svg)
    assert d and d.group(1).count("M") == 2
    assert 'class="bound"' in svg and "p(95)&lt;400" in svg


def test_log_ticks_keep_decades() -> None:
    lo, hi, ticks = charts.log_ticks(8.0, 1500.0, max_ticks=5)
    assert lo < 8.0 and hi > 1500.0
    assert {10.0, 100.0, 1000.0} <= set(ticks) and len(ticks) <= 5


def test_downsample_keeps_peaks() -> None:
    pts: list[tuple[float, float | None]] = [(float(i), 1.0) for i in range(3000)]
    pts[1234] = (1234.0, 99.0)
    out = charts.downsample(pts, limit=300, peak=True)
    assert len(out) <= 300 and max(y for _, y in out if y is not None) == 99.0


def test_histogram_bins_from_centroids_and_from_quantiles() -> None:
    cents = [(float(m), 1.0) for m in range(1, 101)] + [(5000.0, 1.0)]
    bins, note = histogram_bins(Distribution({0.0: 1.0, 99.0: 99.0, 100.0: 5000.0}, cents))
    assert bins[-1][1] < 5000 and "not drawn" in note
    assert sum(b[2] for b in bins) == pytest.approx(100 / 101)
    qs = {float(p): float(p) for p in range(0, 101, 10)}
    bins, note = histogram_bins(Distribution(qs, []))
    assert note == "" and sum(b[2] for b in bins) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"metrics": {}},
        {"metrics": {"x": {"thresholds": {"not an expression": {"ok": False}}}}},
        {
            "metrics": {"http_req_duration": {"contains": "time", "values": {"p(95)": None}}},
            "veza_ray": {
                "intervals": "junk",
                "actors": "x",
                "nodes": [1, 2],
                "distributions": {"a": {"quantiles": {"p(50)": "x"}, "centroids": [[1]]}},
                "generator_health": {"saturated": True, "actors": [None]},
                "lost_actors": [None],
                "errors": {"e": "x"},
                "verdicts": [None, {"metric_key": "m", "expression": "p(95)<1", "ok": False}],
                "scenarios": ["a", None, 3],
            },
        },
    ],
)
def test_odd_summaries_still_render(odd: dict[str, Any]) -> None:
    """A hand-edited or foreign summary degrades section by section, never raises."""
    html = render_html(odd)
    assert "data-verdict=" in html
    ET.fromstring(render_junit(odd))
    assert render_markdown(odd).startswith("### ")
