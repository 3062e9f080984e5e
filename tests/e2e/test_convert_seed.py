"""`veza-ray convert` on the seed: the converted gate sends what real k6 sends.

Both tools run the same k6 script (the seed, plus probe thresholds ``count>=0`` on
``http_reqs{name,method,scenario,status}`` for every request kind, which always pass and
make each tool's summary count the requests carrying exactly those tags) against the
emulator, which counts every request by route and status. Per request kind, each tool's
tag count must equal the emulator's route count, and the two tools must agree on which
routes were hit with which statuses, and on which thresholds fail: the seed's own three
defects (see tests/e2e/test_k6_seed.py) are kept by a faithful conversion.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from k6run import convert, env_args, k6_argv, run_tool, veza_argv
from test_k6_seed import SEED as _SEED
from test_k6_seed import SEED_ENV, find_k6, localize_seed, stats_of

from veza_ray.emulator import EmulatorConfig, EmulatorThread

REPO_ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the repo; VEZA_RAY_SEED names it for a checkout that lives elsewhere.
SEED = Path(os.environ.get("VEZA_RAY_SEED") or _SEED)
TIMEOUT_S = 300

# name tag -> (method, scenario, status the emulator answers, emulator route)
KINDS = {
    "upload_initiate": ("POST", "upload", 200, "upload_initiate"),
    "upload_chunk": ("POST", "upload", 400, "upload_chunk"),  # seed defect 1
    "hls_master": ("GET", "streaming", 200, "hls_master"),
    "hls_playlist": ("GET", "streaming", 200, "hls_playlist"),
    "hls_segment": ("GET", "streaming", 200, "hls_segment"),
    "browse_search": ("GET", "browse", 200, "search"),
    "browse_list": ("GET", "browse", 200, "track_list"),
    "browse_detail": ("GET", "browse", 200, "track_detail"),
    "checkout_list": ("GET", "checkout", 200, "product_list"),
    "checkout_create": ("POST", "checkout", 400, "order_create"),  # seed defect 2
}
ENV = SEED_ENV


def selector(name: str) -> str:
    method, scenario, status, _ = KINDS[name]
    return f"http_reqs{{name:{name},method:{method},scenario:{scenario},status:{status}}}"


def probed_seed() -> str:
    """The localized seed with one always-passing threshold per request kind."""
    source = localize_seed(SEED.read_text())
    probes = "".join(f"'{selector(n)}': ['count>=0'],\n" for n in KINDS)
    marker = "thresholds: {\n"
    assert source.count(marker) == 1, "the seed's thresholds block moved; update the probe"
    return source.replace(marker, marker + probes)


def run_with_emulator(
    cmd: list[str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    with EmulatorThread(EmulatorConfig(profile="fast")) as emu:
        args = env_args({**ENV, "BASE_URL": emu.base_url})
        proc = run_tool(cmd, *args, cwd=cwd, timeout=TIMEOUT_S)
        return proc, stats_of(emu.base_url)


def counts(metrics: dict[str, Any], k6_shape: bool) -> dict[str, int]:
    out = {}
    for name in KINDS:
        entry = metrics.get(selector(name), {})
        value = entry.get("count") if k6_shape else entry.get("values", {}).get("count")
        out[name] = int(value or 0)
    return out


def failed_thresholds(metrics: dict[str, Any], k6_shape: bool) -> set[str]:
    failed = set()
    for key, entry in metrics.items():
        verdicts = entry.get("thresholds") or {}
        for v in verdicts.values():
            if (v is True) if k6_shape else not v.get("ok", True):
                failed.add(key)
    return failed


def check_against_emulator(got: dict[str, int], stats: dict[str, Any], who: str) -> None:
    routes = stats["routes"]
    for name, (_m, _s, status, route) in KINDS.items():
        assert got[name] == routes.get(route, 0), (who, name, got, routes)
        if routes.get(route):
            assert stats["route_statuses"][route] == {str(status): routes[route]}, (who, route)
    assert sum(got.values()) == stats["total"] > 0, (who, got, stats["total"])


@pytest.mark.ray
def test_converted_seed_sends_what_k6_sends(tmp_path: Path) -> None:
    if not SEED.is_file():
        pytest.skip(f"seed script not found at {SEED}")
    k6 = find_k6()
    if k6 is None:
        pytest.skip("k6 binary not found")
    js, gate = convert(tmp_path, "seed_probed", probed_seed())
    assert "TODO(convert)" not in gate.read_text()

    k6_export, vr_export = tmp_path / "k6.json", tmp_path / "vr.json"
    k6_proc, k6_stats = run_with_emulator(
        k6_argv(k6, js, "--no-color", summary=k6_export), tmp_path
    )
    vr_proc, vr_stats = run_with_emulator(
        veza_argv(gate, 2, "--quiet", summary=vr_export), tmp_path
    )
    assert k6_proc.returncode == 99, k6_proc.stderr[-3000:]
    assert vr_proc.returncode == 99, vr_proc.stderr[-3000:] + vr_proc.stdout[-3000:]
    k6_metrics = json.loads(k6_export.read_text())["metrics"]
    vr_metrics = json.loads(vr_export.read_text())["metrics"]

    check_against_emulator(counts(k6_metrics, True), k6_stats, "k6")
    check_against_emulator(counts(vr_metrics, False), vr_stats, "veza-ray")
    # The same request kinds reached the emulator from both (browse_detail is a 10 % dice
    # roll: only the kinds every short run hits are compared by presence).
    sure = {r for n, (_m, _s, _st, r) in KINDS.items() if n != "browse_detail"}
    assert sure <= set(k6_stats["routes"]) and sure <= set(vr_stats["routes"])
    # Defects kept: every chunk 400 (10 per initiate), the checkout 400s failed requests,
    # hls_segment_bytes never counted; the same thresholds fail in both.
    for stats in (k6_stats, vr_stats):
        assert stats["routes"]["upload_chunk"] == 10 * stats["routes"]["upload_initiate"]
    assert (
        failed_thresholds(k6_metrics, True)
        == failed_thresholds(vr_metrics, False)
        == {"http_req_failed", "upload_errors"}
    )
    assert k6_metrics.get("hls_segment_bytes", {}).get("count", 0) == 0
    assert vr_metrics.get("hls_segment_bytes", {}).get("values", {}).get("count", 0) == 0
    # handleSummary ran in both and wrote the seed's own summary file.
    assert (tmp_path / "k6-summary.json").is_file()
