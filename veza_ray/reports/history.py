"""The baseline comparison and the run history in the reports (HTML, Markdown, JUnit).

Reads ``veza_ray.comparison`` (core/compare.py's result) and ``veza_ray.history``
(the recent runs and the acceptance chain, written by ``run --history``); every section
is absent when its key is, so older summaries render as before.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from veza_ray.core.compare import render_markdown, table
from veza_ray.core.series import ALL
from veza_ray.reports import charts, fmt

C_P95, C_P99, C_ERR = "#2f6db5", "#8a4fb0", "#d0531b"
RulesFor = Callable[[str, str, Sequence[str] | None], list[charts.Rule]]


def _e(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value), quote=True)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def comparison_markdown(summary: Mapping[str, Any], escape_md: Callable[[str], str]) -> str:
    result = _map(_map(summary.get("veza_ray")).get("comparison"))
    if not result.get("rows"):
        return ""
    return render_markdown(result, escape_md)


def comparison_html(summary: Mapping[str, Any]) -> str:
    result = _map(_map(summary.get("veza_ray")).get("comparison"))
    if not result.get("rows"):
        return ""
    head, rows = table(result)
    body = []
    for row in rows:
        verdict = row[-1]
        style = ' style="color:#c62828;font-weight:600"' if verdict == "worse" else ""
        cells = "".join(f"<td>{_e(c)}</td>" for c in row[:-1])
        body.append(f"<tr>{cells}<td{style}>{_e(verdict)}</td></tr>")
    floor, alpha = float(result.get("floor_pct", 10)), float(result.get("alpha", 0.01))
    answer = (
        "regression: " + ", ".join(result.get("worse") or ())
        if result.get("regressed")
        else "no row is worse than the baseline"
    )
    return (
        f"<section><h2>Against the baseline</h2><p><strong>{_e(answer)}</strong> "
        f"(baseline {_e(result.get('base', ''))})</p>"
        '<div style="overflow-x:auto"><table><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + '</tbody></table></div><p class="muted small">A row is <em>worse</em> only when '
        f"it moved by more than {floor:g} % and its test "
        f"gives p &lt; {alpha:g}: Mann-Whitney U on the "
        "per-interval p95s for latency, a two-proportion z test on request counts for rates. "
        "Beyond the floor but not significant is <em>noise</em>.</p></section>"
    )


def _run_points(
    runs: Sequence[Mapping[str, Any]], scope: str, key: str
) -> list[tuple[float, float | None]]:
    out: list[tuple[float, float | None]] = []
    for i, run in enumerate(runs):
        value = _map(_map(run.get("scopes")).get(scope)).get(key)
        out.append((float(i + 1), float(value) if value is not None else None))
    return out


def history_html(summary: Mapping[str, Any], rules: RulesFor) -> str:
    """p95/p99 per scope and the error rate over the recent runs, bounds drawn, the
    runs that regressed marked, and the acceptance chain."""
    hist = _map(_map(summary.get("veza_ray")).get("history"))
    runs = [r for r in hist.get("runs") or () if isinstance(r, Mapping)]
    if not runs:
        return ""
    scopes = [ALL, *[k for k in _map(runs[-1].get("scopes")) if k != ALL]]
    ids = [r.get("id") for r in runs]

    def x_fmt(v: float) -> str:
        i = round(v) - 1
        return f"#{ids[i]}" if 0 <= i < len(ids) and abs(v - round(v)) < 1e-9 else ""

    figs = []
    for scope in scopes:
        name = "" if scope == ALL else scope
        lat = charts.line_chart(
            [
                charts.Line("p95", _run_points(runs, scope, "p95"), C_P95),
                charts.Line("p99", _run_points(runs, scope, "p99"), C_P99, "4 2"),
            ],
            x_max=float(len(runs)),
            y_fmt=lambda v: f"{v:g} ms",
            x_fmt=x_fmt,
            rules=rules(name, "http_req_duration", None),
            log_y=True,
            label=f"{scope}: p95 and p99 over the last runs",
        )
        err = charts.line_chart(
            [charts.Line("failed rate", _run_points(runs, scope, "error_rate"), C_ERR)],
            x_max=float(len(runs)),
            y_fmt=lambda v: f"{v * 100:.3g}%",
            x_fmt=x_fmt,
            rules=rules(name, "http_req_failed", ("rate",)),
            y_floor=0.01,
            label=f"{scope}: failed request rate over the last runs",
        )
        figs.append(
            f'<div class="scenario"><h3>{_e(scope)}</h3><div class="charts">'
            f"<figure><figcaption>p95 / p99 per run</figcaption>{lat}</figure>"
            f"<figure><figcaption>failed rate per run</figcaption>{err}</figure></div></div>"
        )
    return (
        "<section><h2>History</h2>"
        + _acceptance_html(_map(hist.get("acceptance")))
        + "".join(figs)
        + _runs_table(runs)
        + "</section>"
    )


def _acceptance_html(acc: Mapping[str, Any]) -> str:
    if not acc:
        return ""
    chips = " ".join(
        f'<span style="padding:2px 6px;border-radius:4px;color:#fff;background:'
        f'{"#1f7a5c" if c.get("green") else "#c62828"}">{_e(c.get("day", ""))}</span>'
        for c in reversed(acc.get("chain") or ())
    )
    return f"<p><strong>Acceptance ({_e(acc.get('nights', 3))} nights):</strong> " + (
        f"{_e(acc.get('line', ''))}</p><p>{chips}</p>"
    )


def _runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in reversed(runs):
        marks = []
        if r.get("regressed"):
            marks.append('<span style="color:#c62828;font-weight:600">regressed</span>')
        if not r.get("complete", True):
            marks.append("incomplete")
        rows.append(
            f"<tr><td>#{_e(r.get('id'))}</td><td>{_e(r.get('day', ''))}</td>"
            f"<td>{_e(fmt.utc(r.get('start_epoch')))}</td><td>{_e(r.get('code'))}</td>"
            f"<td>{' '.join(marks)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>run</th><th>day</th><th>started</th><th>exit</th><th></th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def history_markdown(summary: Mapping[str, Any], escape_md: Callable[[str], str]) -> str:
    acc = _map(_map(_map(summary.get("veza_ray")).get("history")).get("acceptance"))
    if not acc:
        return ""
    icon = "✅" if acc.get("accepted") else "⏳"
    return f"{icon} Acceptance: {escape_md(str(acc.get('line', '')))}\n"


def comparison_junit(root: ET.Element, summary: Mapping[str, Any]) -> ET.Element | None:
    """A ``veza-ray.baseline`` suite: one test case per compared row, failed when worse."""
    result = _map(_map(summary.get("veza_ray")).get("comparison"))
    rows = [r for r in result.get("rows") or () if isinstance(r, Mapping)]
    if not rows:
        return None
    suite = ET.SubElement(root, "testsuite", {"name": "veza-ray.baseline"})
    for r in rows:
        name = f"{r.get('key')} {r.get('stat')}"
        case = ET.SubElement(suite, "testcase", {"classname": "baseline", "name": name})
        p = r.get("p_value")
        change = r.get("change_pct")
        text = (
            f"{r.get('verdict')}: change "
            + ("-" if change is None else f"{change:+.1f} %")
            + f", {r.get('test')}"
            + ("" if p is None else f" p = {p:.2g}")
            + f", baseline {result.get('base', '')}"
        )
        if r.get("verdict") == "worse":
            ET.SubElement(
                case, "failure", {"type": "BaselineRegression", "message": text}
            ).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    failures = sum(1 for r in rows if r.get("verdict") == "worse")
    suite.set("tests", str(len(rows)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return suite
