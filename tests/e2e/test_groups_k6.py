"""group(): nested groups, the ``group`` tag, ``group_duration`` and checks per group, as k6.

One k6 script (3 fixed iterations) runs in real k6 and, converted by `veza-ray convert`,
in veza-ray against the emulator. Thresholds on tag-selected sub-metrics make each tool's
summary show how many samples carried exactly ``group:::a`` / ``group:::a::b`` / none,
and both summaries' ``root_group`` trees (groups, checks, passes, fails) must be the same.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from k6run import convert, k6_argv, run_tool, veza_argv
from test_k6_seed import find_k6, stats_of

from veza_ray.emulator import EmulatorConfig, EmulatorThread

SCRIPT = """
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter } from 'k6/metrics';

const marks = new Counter('marks');
const BASE = __ENV.BASE_URL;

export const options = {
  scenarios: { one: { executor: 'per-vu-iterations', vus: 1, iterations: 3, maxDuration: '60s' } },
  thresholds: {
    'http_reqs{group:::a}': ['count>=0'],
    'http_reqs{group:::a::b}': ['count>=0'],
    'marks{group:::a::b}': ['count>=0'],
    'marks': ['count>=0'],
    'group_duration{group:::a}': ['max>0'],
    'group_duration{group:::a::b}': ['min<0'],
    'checks{group:::a::b}': ['rate>0.99'],
  },
};

export default function () {
  http.get(`${BASE}/api/v1/marketplace/products?limit=1`);
  group('a', function () {
    const res = http.get(`${BASE}/api/v1/search?q=x`);
    check(res, { 'search ok': (r) => r.status === 200 });
    group('b', () => {
      const list = http.get(`${BASE}/api/v1/tracks?page=1&limit=2`);
      check(list, { 'list ok': (r) => r.status === 200, 'list is 418': (r) => r.status === 418 });
      marks.add(1);
    });
  });
  check(null, { 'root check': () => true });
}
"""


def run(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    with EmulatorThread(EmulatorConfig(profile="none")) as emu:
        proc = run_tool(cmd, "-e", f"BASE_URL={emu.base_url}", cwd=cwd)
        return proc, stats_of(emu.base_url)


def items(v: Any) -> list[Any]:
    """k6's --summary-export keys groups and checks by name; handleSummary's data lists them."""
    return list(v.values()) if isinstance(v, dict) else list(v)


def tree(group: dict[str, Any]) -> dict[str, Any]:
    """A root_group in one shape, for comparing the two tools (ids are md5(path) in both)."""
    return {
        "name": group["name"],
        "path": group["path"],
        "id": group["id"],
        "checks": sorted(
            (c["name"], c["path"], c["id"], c["passes"], c["fails"]) for c in items(group["checks"])
        ),
        "groups": [tree(g) for g in items(group["groups"])],
    }


def value(entry: dict[str, Any], key: str) -> Any:
    return entry[key] if key in entry else entry.get("values", {}).get(key)


def verdicts(metrics: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for key, entry in metrics.items():
        for expr, v in (entry.get("thresholds") or {}).items():
            out[f"{key} {expr}"] = (not v) if isinstance(v, bool) else bool(v["ok"])
    return out


@pytest.mark.ray
def test_groups_as_k6_reports_them(tmp_path: Path) -> None:
    k6 = find_k6()
    if k6 is None:
        pytest.skip("k6 binary not found")
    js, py = convert(tmp_path, "groups", SCRIPT)
    assert "async with group('a'):" in py.read_text()

    k6_out, vr_out = tmp_path / "k6.json", tmp_path / "vr.json"
    k6_proc, k6_stats = run(k6_argv(k6, js, summary=k6_out), tmp_path)
    vr_proc, vr_stats = run(veza_argv(py, 1, "--quiet", summary=vr_out), tmp_path)
    # 99 in both: group_duration{group:::a::b} min<0 cannot hold
    assert k6_proc.returncode == 99, k6_proc.stderr[-2000:]
    assert vr_proc.returncode == 99, vr_proc.stderr[-2000:] + vr_proc.stdout[-2000:]
    k6_sum, vr_sum = json.loads(k6_out.read_text()), json.loads(vr_out.read_text())
    for stats in (k6_stats, vr_stats):
        assert stats["routes"] == {"product_list": 3, "search": 3, "track_list": 3}, stats

    km, vm = k6_sum["metrics"], vr_sum["metrics"]
    for key, expected in (
        ("http_reqs{group:::a}", 3),  # the search only: group:::a::b is another tag value
        ("http_reqs{group:::a::b}", 3),
        ("marks{group:::a::b}", 3),
        ("marks", 3),
        ("http_reqs", 9),
    ):
        assert value(km[key], "count") == expected, ("k6", key, km[key])
        assert value(vm[key], "count") == expected, ("veza-ray", key, vm[key])
    assert verdicts(km) == verdicts(vm)
    assert verdicts(vm)["group_duration{group:::a} max>0"] is True
    assert verdicts(vm)["group_duration{group:::a::b} min<0"] is False
    assert verdicts(vm)["checks{group:::a::b} rate>0.99"] is False  # 'list is 418' fails

    assert tree(vr_sum["root_group"]) == tree(k6_sum["root_group"])
    b = vr_sum["root_group"]["groups"][0]["groups"][0]
    assert b["path"] == "::a::b"
    assert ("list is 418", 0, 3) in [(c["name"], c["passes"], c["fails"]) for c in b["checks"]]
