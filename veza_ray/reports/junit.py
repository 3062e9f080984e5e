"""JUnit XML: the run as test cases, so a CI's test view says which threshold failed.

One test case per threshold (its failure carries the measured value and the bound), one
per check (failing when any iteration failed it), and one for the delivered load, because
a run that lost actors exits 103 with every threshold green and the test view should
still say why the job is red.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from veza_ray.reports import fmt
from veza_ray.reports.model import Report, Threshold, build

# XML 1.0 cannot carry most control characters, even escaped; user strings lose them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _suite(parent: ET.Element, name: str, r: Report) -> ET.Element:
    return ET.SubElement(
        parent,
        "testsuite",
        {
            "name": _x(name),
            "timestamp": fmt.utc(r.start_epoch).replace(" UTC", "").replace(" ", "T")
            if r.start_epoch is not None
            else "",
            "time": f"{r.duration_s or 0.0:.3f}",
        },
    )


def _count(suite: ET.Element) -> tuple[int, int]:
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    return len(cases), failures


def _threshold_case(suite: ET.Element, t: Threshold) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": _x(f"thresholds.{t.metric_key}"),
            "name": _x(f"{t.metric_key}: {t.expression}"),
            "time": "0",
        },
    )
    measured = fmt.metric_value(t.observed, t.contains, t.aggregation)
    bound = (
        f"{t.operator} {fmt.metric_value(t.bound, t.contains, t.aggregation)}"
        if t.bound is not None
        else fmt.NA
    )
    detail = (
        f"metric: {t.metric_key}\nthreshold: {t.expression}\n"
        f"measured {t.aggregation} = {measured} (raw {t.observed!r})\n"
        f"bound: {t.aggregation} {bound} (raw {t.bound!r})\n"
        f"judged on the whole cluster's merged data"
        + ("\nabortOnFail: true" if t.abort_on_fail else "")
    )
    if t.ok:
        ET.SubElement(case, "system-out").text = _x(detail)
        return
    failure = ET.SubElement(
        case,
        "failure",
        {
            "type": "ThresholdCrossed",
            "message": _x(
                f"{t.metric_key} {t.expression}: measured {t.aggregation} = {measured}, "
                f"bound {bound}"
            ),
        },
    )
    failure.text = _x(detail)


def render_junit(summary: Mapping[str, Any]) -> str:
    """JUnit XML (the common Jenkins/GitLab/GitHub dialect) for a summary dict."""
    r = build(summary)
    root = ET.Element("testsuites", {"name": "veza-ray"})
    thr = _suite(root, "veza-ray.thresholds", r)
    props = ET.SubElement(thr, "properties")
    for name, value in (
        ("verdict", r.verdict.status),
        ("exit_code", str(r.verdict.exit_code)),
        ("scenarios", ",".join(r.scenarios)),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    for t in r.thresholds:
        _threshold_case(thr, t)

    checks = _suite(root, "veza-ray.checks", r)
    for c in r.checks:
        total = c.passes + c.fails
        case = ET.SubElement(
            checks, "testcase", {"classname": "checks", "name": _x(c.name), "time": "0"}
        )
        share = fmt.percent(c.passes / total if total else 1.0)
        text = f"passes={c.passes} fails={c.fails} ({share} passed)"
        if c.fails > 0:
            ET.SubElement(
                case, "failure", {"type": "CheckFailed", "message": _x(f"{c.name}: {text}")}
            ).text = _x(text)
        else:
            ET.SubElement(case, "system-out").text = _x(text)

    run = _suite(root, "veza-ray.run", r)
    case = ET.SubElement(
        run, "testcase", {"classname": "run", "name": "planned load delivered", "time": "0"}
    )
    # Thresholds have their own cases; anything else that failed the run fails this one.
    lost = [
        x
        for x in r.verdict.reasons
        if not x.startswith(("threshold crossed", "worse than the baseline"))
    ]
    if lost:
        kind = {103: "LostLoad", 105: "Stopped", 112: "GeneratorSaturated", 113: "OutputLost"}.get(
            r.verdict.exit_code, "RunFailed"
        )
        ET.SubElement(case, "failure", {"type": kind, "message": _x(lost[0])}).text = _x(
            "\n".join(lost)
        )
    notes = list(r.verdict.warnings)
    if notes:
        ET.SubElement(run, "system-out").text = _x("\n".join(notes))

    from veza_ray.reports.history import comparison_junit

    baseline = comparison_junit(root, summary)  # one case per compared row, if compared
    tests = failures = 0
    for suite in (thr, checks, run, *([baseline] if baseline is not None else [])):
        n, f = _count(suite)
        tests, failures = tests + n, failures + f
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("time", f"{r.duration_s or 0.0:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
