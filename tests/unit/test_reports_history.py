"""The baseline comparison and the history section in the HTML, Markdown and JUnit
reports, rendered from a summary that `run --history --baseline` completed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from test_history import _db, _summary

from veza_ray.core.history import HistoryOptions
from veza_ray.core.outcome import RunFacts
from veza_ray.history.runhook import finish
from veza_ray.reports import render_html, render_junit, render_markdown


def _slowed(day: int) -> dict[str, Any]:
    s = _summary(day)
    for point in s["veza_ray"]["intervals"]:
        for entry in point["scenarios"].values():
            entry["p95"] *= 2
    for key, entry in s["metrics"].items():
        if key.startswith("http_req_duration{scenario:"):
            entry["values"] = {k: v * 2 for k, v in entry["values"].items()}
    s["veza_ray"]["identity"]["script"] = "<b>gate</b>.py"  # escaped everywhere
    return s


def _completed(tmp_path: Path) -> dict[str, Any]:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(_summary(1)))
    db = _db(tmp_path, [])
    for day in (2, 3):
        s = _slowed(day)
        finish(HistoryOptions(path=db), s, RunFacts(), lambda _: None)
    summary = _slowed(4)
    outcome, _ = finish(HistoryOptions(path=db, baseline=str(base)), summary, RunFacts(), print)
    assert outcome.code == 114
    return summary


def test_html_has_the_comparison_and_the_history(tmp_path: Path) -> None:
    html = render_html(_completed(tmp_path))
    assert "<h2>Against the baseline</h2>" in html and "<h2>History</h2>" in html
    assert "regression: http_req_duration{scenario:" in html
    assert 'font-weight:600">worse</td>' in html
    assert "Acceptance (3 nights):" in html and "not accepted: night 1 of 3" in html
    assert "p95 / p99 per run" in html and "#3" in html
    assert "<b>gate</b>" not in html  # the script name is user text
    assert "regressed</span>" in html


def test_markdown_has_the_table_and_the_acceptance_line(tmp_path: Path) -> None:
    md = render_markdown(_completed(tmp_path))
    assert "#### ❌ veza-ray compare: REGRESSION" in md
    assert "| **worse** |" in md
    assert "⏳ Acceptance: not accepted" in md


def test_junit_has_a_baseline_suite(tmp_path: Path) -> None:
    root = ET.fromstring(render_junit(_completed(tmp_path)))
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "veza-ray.baseline")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed and all(
        c.find("failure").get("type") == "BaselineRegression"  # type: ignore[union-attr]
        for c in failed
    )
    assert int(suite.get("failures", "0")) == len(failed)
    assert int(root.get("failures", "0")) >= len(failed)
    run = next(s for s in root.iter("testsuite") if s.get("name") == "veza-ray.run")
    assert run.find("testcase/failure") is None  # the load was delivered: not that case


def test_a_summary_without_them_renders_as_before() -> None:
    s = _summary(1)
    assert "Against the baseline" not in render_html(s)
    assert "veza-ray compare" not in render_markdown(s)
    assert "veza-ray.baseline" not in render_junit(s)
