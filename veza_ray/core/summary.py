"""Merged metrics + threshold verdicts -> k6's handleSummary data, and its text form.

The dict layout is what k6 hands to handleSummary (root_group, options, state, metrics),
so tools that read a k6-summary.json read ours; veza-ray's own extras sit under one more
top-level key, ``"veza_ray"``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from veza_ray.core.datasplit import usage_line
from veza_ray.core.metric_types import MetricDef, MetricType, Tags, ValueType
from veza_ray.core.metrics import MetricStore, Sink
from veza_ray.core.thresholds import Verdict

EXPECTED_SUBMETRIC = "http_req_duration{expected_response:true}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def selector_text(metric: str, tags: Tags) -> str:
    if not tags:
        return metric
    return metric + "{" + ",".join(f"{k}:{v}" for k, v in tags) + "}"


def sink_values(
    sink: Sink | None, kind: MetricType, duration_s: float, stats: Sequence[str]
) -> dict[str, float]:
    """k6's ``values`` for one metric or sub-metric; an empty sink reports zeros, as k6 does."""
    if sink is None:
        from veza_ray.core.metrics import new_sink

        sink = new_sink(kind)
    return sink.values(duration_s, stats)


def build_summary(
    store: MetricStore,
    verdicts: Sequence[Verdict],
    trend_stats: Sequence[str],
    duration_s: float,
    is_tty: bool = False,
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary dict: every metric with data or a threshold, and threshold sub-metrics."""
    metrics: dict[str, Any] = {}
    by_key: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_key.setdefault(v.threshold.selector.source, []).append(v)
    names = set(store.names()) | {v.threshold.selector.metric for v in verdicts}
    for name in sorted(names):
        d = store.defs[name]
        metrics[name] = _entry(d, store.aggregate(name), duration_s, trend_stats)
    sel: Tags = (("expected_response", "true"),)
    expected = store.aggregate("http_req_duration", sel) if "http_req_duration" in names else None
    if expected is not None:  # as k6: shown once a request was expected (none: no callback)
        d = store.defs["http_req_duration"]
        metrics[EXPECTED_SUBMETRIC] = _entry(d, expected, duration_s, trend_stats)
    for key, vs in by_key.items():
        sel_obj = vs[0].threshold.selector
        d = store.defs[sel_obj.metric]
        entry = metrics.get(key)
        if entry is None:
            entry = _entry(d, store.aggregate(d.name, sel_obj.tags), duration_s, trend_stats)
            metrics[key] = entry
        entry["thresholds"] = {v.threshold.condition.source: {"ok": v.ok} for v in vs}
    return {
        "root_group": _groups(store),
        "options": {
            "summaryTrendStats": list(trend_stats),
            "summaryTimeUnit": "",
            "noColor": False,
        },
        "state": {
            "isStdOutTTY": is_tty,
            "isStdErrTTY": is_tty,
            "testRunDurationMs": duration_s * 1000.0,
        },
        "metrics": metrics,
        "veza_ray": dict(extras or {}),
    }


def _entry(
    d: MetricDef, sink: Sink | None, duration_s: float, stats: Sequence[str]
) -> dict[str, Any]:
    return {
        "type": d.type.value,
        "contains": d.contains.value,
        "values": sink_values(sink, d.type, duration_s, stats),
    }


def _groups(store: MetricStore) -> dict[str, Any]:
    """k6's root_group: nested groups (from the ``group`` tag of checks and
    ``group_duration``), each with its checks' pass/fail counts, in first-seen order."""
    root = _group_node("", "")
    nodes: dict[str, dict[str, Any]] = {"": root}
    counts: dict[tuple[str, str], list[int]] = {}
    for (name, tags), sink in store.series.items():
        if name not in ("checks", "group_duration"):
            continue
        tag = dict(tags)
        path = tag.get("group", "")
        node = _group_at(nodes, path)
        check = tag.get("check")
        if name != "checks" or check is None:
            continue
        if (path, check) not in counts:
            counts[(path, check)] = [0, 0]
            node["checks"].append({"name": check, "path": f"{path}::{check}"})
        vals = sink.values(1.0)
        counts[(path, check)][0] += int(vals["passes"])
        counts[(path, check)][1] += int(vals["fails"])
    for node in nodes.values():
        for c in node["checks"]:
            p, f = counts[(node["path"], c["name"])]
            c.update(id=_md5(c["path"]), passes=p, fails=f)
    return root


def _group_node(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "path": path, "id": _md5(path), "groups": [], "checks": []}


def _group_at(nodes: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """The node of a group path, made (with its parents) on first sight."""
    node = nodes.get(path)
    if node is None:
        parent_path, _, name = path.rpartition("::")
        parent = _group_at(nodes, parent_path)
        node = nodes[path] = _group_node(name, path)
        parent["groups"].append(node)
    return node


# ---- text ------------------------------------------------------------------------------


def format_time(ms: float) -> str:
    """k6's duration style: 512µs, 10.52ms, 1.2s, 2m3s."""
    if ms == 0:
        return "0s"
    if ms < 1:
        return f"{ms * 1000:.2f}µs"
    if ms < 1000:
        return f"{ms:.2f}ms"
    s = ms / 1000.0
    if s < 60:
        return f"{s:.2f}s"
    m, rest = divmod(s, 60)
    return f"{int(m)}m{rest:.1f}s"


def format_data(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def format_number(x: float) -> str:
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _format(value: float, contains: str) -> str:
    if contains == ValueType.TIME.value:
        return format_time(value)
    if contains == ValueType.DATA.value:
        return format_data(value)
    return format_number(value)


def _metric_line(entry: Mapping[str, Any]) -> str:
    vals = entry["values"]
    kind, contains = entry["type"], entry["contains"]
    if kind == "trend":
        return "  ".join(f"{k}={_format(v, contains)}" for k, v in vals.items())
    if kind == "rate":
        return f"{vals['rate'] * 100:.2f}%  ✓ {int(vals['passes'])}  ✗ {int(vals['fails'])}"
    if kind == "counter":
        if contains == ValueType.DATA.value:
            return f"{format_data(vals['count'])}  {format_data(vals['rate'])}/s"
        return f"{format_number(vals['count'])}  {vals['rate']:.2f}/s"
    return (
        f"{_format(vals['value'], contains)}  min={_format(vals['min'], contains)}"
        f"  max={_format(vals['max'], contains)}"
    )


def render_text(summary: Mapping[str, Any], verdicts: Sequence[Verdict]) -> str:
    """k6's end-of-test summary: checks, thresholds with ✓/✗, then every metric."""
    lines: list[str] = []
    root = summary["root_group"]
    if root["checks"] or root["groups"]:
        lines += _group_text(root, 5)
        lines.append("")
    if verdicts:
        lines.append("   THRESHOLDS")
        for v in verdicts:
            d = summary["metrics"].get(v.threshold.selector.source, {})
            shown = (
                "no data"
                if v.observed is None
                else _format(v.observed, d.get("contains", "default"))
            )
            if v.threshold.condition.aggregation == "rate" and v.observed is not None:
                shown = f"{v.observed * 100:.2f}%"
            agg = v.threshold.condition.aggregation
            lines.append(f"   {v.mark} {v.threshold.labelled()} {agg}={shown}")
        lines.append("")
    failed = {v.threshold.selector.source for v in verdicts if not v.ok}
    passed = {v.threshold.selector.source for v in verdicts if v.ok} - failed
    metrics = summary["metrics"]
    width = max([len(k) for k in metrics if "{" not in k] + [20]) + 3
    for name in sorted(k for k in metrics if "{" not in k):
        lines.append(_row(name, metrics[name], width, failed, passed, indent=0))
        for sub in sorted(k for k in metrics if k.startswith(name + "{")):
            label = "{ " + sub[len(name) + 1 : -1] + " }"
            lines.append(_row(label, metrics[sub], width, failed, passed, indent=2, key=sub))
    series = summary.get("veza_ray", {}).get("series")
    if isinstance(series, Mapping) and (
        series.get("count", 0) > series.get("warn_at", 0) or series.get("overflow_series")
    ):  # a cardinality warning was given during the run: the count it was about
        lines.append("")
        lines.append(
            f"   series: {series['count']} unique time series (warning above "
            f"{series['warn_at']}, at most {series['limit_per_metric']} tag sets per metric)"
        )
    data = summary.get("veza_ray", {}).get("data")
    if isinstance(data, list) and data:  # DataFile use: rows used, ran out or not
        lines.append("")
        lines.extend(f"   {usage_line(f)}" for f in data if isinstance(f, Mapping))
    outcome = summary.get("veza_ray", {}).get("outcome")
    if isinstance(outcome, Mapping):  # the run's one decision, as the process exits with it
        lines.append("")
        lines.append(f"   RESULT: {outcome['status']} (exit code {outcome['code']})")
        lines.extend(f"   ✗ {r}" for r in outcome.get("reasons", ()))
        lines.extend(f"   note: {n}" for n in outcome.get("notes", ()))
    return "\n".join(lines) + "\n"


def _group_text(group: Mapping[str, Any], indent: int) -> list[str]:
    """A group's checks, then each sub-group as k6 prints it (``█ name``, indented)."""
    pad = " " * indent
    lines: list[str] = []
    for c in group["checks"]:
        lines.append(f"{pad}{'✓' if c['fails'] == 0 else '✗'} {c['name']}")
        if c["fails"]:
            total = c["passes"] + c["fails"]
            share = c["passes"] * 100 // max(total, 1)
            lines.append(f"{pad} ↳  {share}% — ✓ {c['passes']} / ✗ {c['fails']}")
    for sub in group["groups"]:
        lines += ["", f"{pad}█ {sub['name']}"]
        inner = _group_text(sub, indent + 2)
        lines += ([""] if inner and inner[0] else []) + inner
    return lines


def _row(
    label: str,
    entry: Mapping[str, Any],
    width: int,
    failed: set[str],
    passed: set[str],
    indent: int,
    key: str | None = None,
) -> str:
    key = key or label
    mark = "✗" if key in failed else ("✓" if key in passed else " ")
    dots = "." * max(3, width - len(label) - indent)
    return f"   {mark} {' ' * indent}{label}{dots}: {_metric_line(entry)}"


def summary_json(summary: Mapping[str, Any]) -> str:
    """The summary as ``--summary-export`` writes it (indented JSON)."""
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode()
