"""The CI step summary: verdict, p95/p99 and failed rate per scenario, thresholds.

What the seed's nightly job annotated on the Actions page so the verdict shows at a
glance, written as GitHub-flavoured Markdown (Forgejo renders the same). User strings
are escaped so a check or scenario name cannot break the table or inject markup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from veza_ray.reports import fmt
from veza_ray.reports.model import ScenarioStats, build


def md_text(text: str) -> str:
    """Plain text safe in a table cell: markup characters escaped, one line."""
    text = " ".join(text.split())
    out = []
    for ch in text:
        if ch in "\\`*_[]<>|#~!&":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def md_code(text: str) -> str:
    """An inline code span that survives backticks and pipes inside a table cell."""
    text = " ".join(text.split()).replace("|", "\\|")
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _row(s: ScenarioStats, strong: bool = False) -> str:
    name = f"**{md_text(s.name)}**" if strong else md_text(s.name)
    cells = [
        name,
        fmt.number(s.requests),
        fmt.per_second(s.rps),
        fmt.ms(s.p95),
        fmt.ms(s.p99),
        fmt.percent(s.failed_rate),
    ]
    return "| " + " | ".join(cells) + " |"


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The step summary for a summary dict."""
    r = build(summary)
    v = r.verdict
    lines: list[str] = []
    passed = sum(1 for t in r.thresholds if t.ok)
    icon = "✅" if v.ok else "❌"
    if v.ok:
        what = f"all {len(r.thresholds)} thresholds passed" if r.thresholds else "run completed"
    else:
        crossed = len(r.thresholds) - passed
        what = (
            f"{crossed} of {len(r.thresholds)} thresholds crossed"
            if crossed
            else "thresholds passed but the planned load was not delivered"
        )
    names = ", ".join(r.scenarios)
    lines.append(f"### {icon} veza-ray: {v.status}: {md_text(what)} (exit {v.exit_code})")
    lines.append("")
    o = r.overall
    facts = [
        f"{fmt.number(o.requests)} requests",
        f"{fmt.per_second(o.rps)} req/s",
        f"{fmt.percent(o.failed_rate)} failed",
        f"p95 {fmt.ms(o.p95)}",
        f"p99 {fmt.ms(o.p99)}",
        fmt.seconds(r.duration_s),
    ]
    if r.actors:
        nodes = len(r.nodes) or len({a.get("node_id") for a in r.actors})
        facts.append(f"{len(r.actors)} actors on {nodes} node(s)")
    if names:
        facts.append(f"scenarios: {names}")
    lines.append(md_text(" · ".join(facts)))
    lines.append("")
    for reason in v.reasons:
        lines.append(f"- ❌ {md_text(reason)}")
    for warning in v.warnings:
        lines.append(f"- ⚠️ {md_text(warning)}")
    if v.reasons or v.warnings:
        lines.append("")
    if r.stats or o.requests is not None:
        lines.append("| scenario | requests | req/s | p95 | p99 | failed |")
        lines.append("|---|--:|--:|--:|--:|--:|")
        lines.append(_row(o, strong=True))
        lines.extend(_row(s) for s in r.stats)
        lines.append("")
    if r.thresholds:
        lines.append("| | metric | threshold | measured | bound |")
        lines.append("|---|---|---|--:|--:|")
        for t in r.thresholds:
            measured = fmt.metric_value(t.observed, t.contains, t.aggregation)
            bound = (
                f"{t.operator} {fmt.metric_value(t.bound, t.contains, t.aggregation)}"
                if t.bound is not None
                else fmt.NA
            )
            lines.append(
                f"| {'✅' if t.ok else '❌'} | {md_code(t.metric_key)} | {md_code(t.expression)} "
                f"| {md_text(t.aggregation)} = {md_text(measured)} | {md_text(bound)} |"
            )
        lines.append("")
    failing = [c for c in r.checks if c.fails]
    if r.checks:
        lines.append(
            f"Checks: {len(r.checks) - len(failing)} of {len(r.checks)} without failures"
            + (
                ": "
                + ", ".join(f"{md_text(c.name)} ✗ {c.fails}/{c.passes + c.fails}" for c in failing)
                if failing
                else "."
            )
        )
        lines.append("")
    from veza_ray.reports.history import comparison_markdown, history_markdown

    for extra in (comparison_markdown(summary, md_text), history_markdown(summary, md_text)):
        if extra:
            lines += [extra.replace("### ", "#### ", 1), ""]
    return "\n".join(lines)


def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append ``text`` to the file named by $GITHUB_STEP_SUMMARY; False when it is unset.

    Forgejo and GitHub Actions both set the variable for every step; outside CI it is
    absent and nothing is written.
    """
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return True
