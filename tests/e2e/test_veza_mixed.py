"""scenarios/veza_mixed.py: the port matches the seed's options, and runs green end to end.

The option test reads the seed k6 script's thresholds block when the shared seed is present,
so the port cannot drift from it key by key or string by string. The end-to-end tests run
``veza-ray run`` as a subprocess (a real local Ray cluster) against the Veza API emulator,
which validates requests like the real backend: with the port's three fixes every flow is
exercised for real and every seed threshold passes.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cli import CLI

from veza_ray.core.metric_types import MetricType, ValueType
from veza_ray.emulator import EmulatorThread
from veza_ray.engine.scenario import load_script

pytestmark = pytest.mark.ray

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scenarios" / "veza_mixed.py"
SEED = REPO_ROOT.parent / "shared" / "seed" / "k6_mixed_scenarios.js"
RUN_TIMEOUT_S = 300  # ~15 s Ray start + 6 s of load + up to 30 s graceful stop, wide margin
SEGMENT_PACKET = 188  # MPEG-TS packet size: every emulator segment is whole packets

SEED_SCENARIOS = {
    # name: (exec in the port, VUs env var, default VUs)
    "upload": ("upload_flow", "UPLOAD_VUS", 100),
    "streaming": ("streaming_flow", "STREAM_VUS", 500),
    "browse": ("browse_flow", "BROWSE_VUS", 1000),
    "checkout": ("checkout_flow", "CHECKOUT_VUS", 50),
}
SEED_METRICS = {
    "upload_errors": (MetricType.RATE, ValueType.DEFAULT),
    "stream_errors": (MetricType.RATE, ValueType.DEFAULT),
    "browse_errors": (MetricType.RATE, ValueType.DEFAULT),
    "checkout_errors": (MetricType.RATE, ValueType.DEFAULT),
    "hls_segment_bytes": (MetricType.COUNTER, ValueType.DEFAULT),
    "upload_bytes": (MetricType.COUNTER, ValueType.DEFAULT),
    "checkout_p95_ms": (MetricType.TREND, ValueType.DEFAULT),
}
# The seed's thresholds as written there; checked against the seed file itself when present.
SEED_THRESHOLDS = {
    "http_req_duration": ["p(95)<500", "p(99)<1500"],
    "http_req_failed": ["rate<0.005"],
    "upload_errors": ["rate<0.01"],
    "stream_errors": ["rate<0.005"],
    "browse_errors": ["rate<0.005"],
    "checkout_errors": ["rate<0.01"],
    "http_req_duration{scenario:browse}": ["p(95)<400"],
    "http_req_duration{scenario:streaming}": ["p(95)<300"],
    "http_req_duration{scenario:checkout}": ["p(95)<800"],
}


def parse_seed_thresholds(source: str) -> dict[str, list[str]]:
    """The ``thresholds: { 'key': ['expr', ...], ... }`` block of the seed, as a dict."""
    block = re.search(r"thresholds:\s*\{(.*?)\n\s*\},", source, re.S)
    assert block, "no thresholds block found in the seed"
    body = re.sub(r"//[^\n]*", "", block.group(1))  # drop comments (they contain no quotes)
    out: dict[str, list[str]] = {}
    for key, exprs in re.findall(r"'([^']+)'\s*:\s*\[([^\]]*)\]", body):
        out[key] = re.findall(r"'([^']*)'", exprs)
    assert out, "thresholds block of the seed parsed to nothing"
    return out


def test_options_match_the_seed() -> None:
    script = load_script(str(SCRIPT), {})  # no VU overrides: the seed's defaults apply
    opts = script.raw_options
    assert opts["discardResponseBodies"] is True

    scenarios = opts["scenarios"]
    assert list(scenarios) == list(SEED_SCENARIOS)
    for name, (exec_name, _env, vus) in SEED_SCENARIOS.items():
        sc = scenarios[name]
        assert sc["executor"] == "constant-vus"
        assert sc["vus"] == vus
        assert sc["duration"] == "5m"
        assert sc["gracefulStop"] == "30s"
        assert sc["tags"] == {"scenario": name}
        assert sc["exec"] == exec_name
        fn = script.flow(exec_name)
        assert fn is not None and inspect.iscoroutinefunction(fn), exec_name

    assert opts["thresholds"] == SEED_THRESHOLDS
    assert list(opts["thresholds"]) == list(SEED_THRESHOLDS)

    for name, (kind, contains) in SEED_METRICS.items():
        d = script.metrics.get(name)
        assert d is not None, f"custom metric {name} not declared"
        assert (d.type, d.contains) == (kind, contains), name
    assert set(script.metrics) == set(SEED_METRICS)
    assert script.handle_summary is not None


def test_thresholds_are_the_seed_files() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed script not found at {SEED}: cannot compare with the seed file")
    seed = parse_seed_thresholds(SEED.read_text())
    script = load_script(str(SCRIPT), {})
    assert script.raw_options["thresholds"] == seed
    assert list(script.raw_options["thresholds"]) == list(seed)
    assert seed == SEED_THRESHOLDS


def test_vu_and_duration_env_knobs() -> None:
    env = {
        "UPLOAD_VUS": "1",
        "STREAM_VUS": "2",
        "BROWSE_VUS": "3",
        "CHECKOUT_VUS": "4",
        "DURATION": "7s",
        "BASE_URL": "http://example.test:9/",
    }
    script = load_script(str(SCRIPT), env)
    scenarios = script.raw_options["scenarios"]
    assert [scenarios[n]["vus"] for n in SEED_SCENARIOS] == [1, 2, 3, 4]
    assert {scenarios[n]["duration"] for n in SEED_SCENARIOS} == {"7s"}
    assert script.module.BASE_URL == "http://example.test:9"  # trailing slash stripped
    assert script.module.STREAM_TRACK_ID == "00000000-0000-0000-0000-000000000001"
    assert script.module.auth_headers() == {}


def _veza(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ),
        timeout=timeout,
    )


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats", timeout=30) as resp:
        body: dict[str, Any] = json.load(resp)
        return body


def test_mixed_gate_passes_against_the_emulator(tmp_path: Path) -> None:
    summary_path = tmp_path / "k6-summary.json"
    export_path = tmp_path / "export.json"
    with EmulatorThread() as emu:
        res = _veza(
            "run",
            "scenarios/veza_mixed.py",
            "--actors",
            "2",
            "--quiet",
            "-e",
            f"BASE_URL={emu.base_url}",
            "-e",
            "USER_TOKEN=test-token",
            "-e",
            "UPLOAD_VUS=1",
            "-e",
            "STREAM_VUS=2",
            "-e",
            "BROWSE_VUS=4",
            "-e",
            "CHECKOUT_VUS=1",
            "-e",
            "DURATION=6s",
            "-e",
            f"SUMMARY_PATH={summary_path}",
            "--summary-export",
            str(export_path),
        )
        stats = _stats(emu.port)
    assert res.returncode == 0, res.stderr[-4000:] + res.stdout[-4000:]
    assert summary_path.is_file(), "handle_summary did not write SUMMARY_PATH"
    assert export_path.is_file()
    data = json.loads(summary_path.read_text())
    metrics = data["metrics"]

    for name in SEED_METRICS:
        assert name in metrics, f"{name} missing from the summary"
    for key, exprs in SEED_THRESHOLDS.items():
        assert key in metrics, f"threshold key {key} missing from the summary"
        assert metrics[key]["thresholds"] == {e: {"ok": True} for e in exprs}, key

    for name in ("upload_errors", "stream_errors", "browse_errors", "checkout_errors"):
        assert metrics[name]["values"]["rate"] == 0, (name, metrics[name]["values"])
    seg_bytes = metrics["hls_segment_bytes"]["values"]["count"]
    assert seg_bytes > 0 and seg_bytes % SEGMENT_PACKET == 0, seg_bytes
    assert metrics["upload_bytes"]["values"]["count"] > 0
    assert metrics["http_reqs"]["values"]["count"] == stats["total"], stats

    # The fixes are visible on the server side too: chunks accepted, no order failures.
    assert stats["upload_bytes_accepted"] > 0, stats
    assert stats["route_statuses"].get("upload_chunk", {}).keys() <= {"200"}, stats
    assert stats["bytes_sent_segments"] == seg_bytes, stats
    assert stats["route_statuses"]["order_create"].keys() == {"400"}, stats
    assert metrics["http_req_failed"]["values"]["rate"] == 0

    # handle_summary's text replaced the default summary on stdout.
    assert "veza mixed-scenarios gate" in res.stdout
    assert "verdict: PASS" in res.stdout
    for name in ("streaming", "browse", "checkout"):
        assert re.search(rf"^\s+{name}\s+p95=\d", res.stdout, re.M), res.stdout
    # --summary-export and handle_summary see the same data.
    exported = json.loads(export_path.read_text())
    assert exported["metrics"]["http_reqs"] == metrics["http_reqs"]


def test_demo_flag_runs_green(tmp_path: Path) -> None:
    res = _veza(
        "run",
        "scenarios/veza_mixed.py",
        "--demo",
        "--actors",
        "2",
        "--quiet",
        "-e",
        "DURATION=5s",
        "-e",
        "UPLOAD_VUS=1",
        "-e",
        "STREAM_VUS=1",
        "-e",
        "BROWSE_VUS=2",
        "-e",
        "CHECKOUT_VUS=1",
        "-e",
        "USER_TOKEN=t",
        "-e",
        f"SUMMARY_PATH={tmp_path / 'k6-summary.json'}",
    )
    assert res.returncode == 0, res.stderr[-4000:] + res.stdout[-4000:]
    assert (tmp_path / "k6-summary.json").is_file()
    assert "verdict: PASS" in res.stdout
