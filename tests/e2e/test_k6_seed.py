"""The real k6 binary runs the seed script against the emulator on 127.0.0.1.

This pins what the seed does against a validating backend, defects included:

1. ``discardResponseBodies: true`` means the upload flow never reads ``upload_id``, so every
   chunk goes out with an empty ``X-Upload-Id`` and gets a 400: ``upload_errors`` = 10/11.
2. The checkout flow expects a 400 for its all-zero product id, but k6 counts every 4xx in
   ``http_req_failed``, so the global ``rate<0.005`` gate cannot pass as written.
3. ``hls_segment_bytes`` is fed from ``segRes.body``, which is null with discarded bodies:
   the counter never moves although every segment is served in full.

The script is not copied by hand: the shared seed is transformed at test time (its one
remote jslib import is dropped, ``textSummary`` becomes a local one-line JSON shim).
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from k6run import env_args, k6_argv, run_tool
from requires import find_k6, requires

from veza_ray.emulator import STREAM_TRACK_ID, EmulatorConfig, EmulatorThread

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = REPO_ROOT.parent / "shared" / "seed" / "k6_mixed_scenarios.js"
K6_TIMEOUT_S = 240  # 5 s of load + up to 30 s graceful stop, with a wide margin
# The seed's -e values beside BASE_URL: a short, small run (tests/e2e/test_convert_seed.py too).
SEED_ENV = {
    "STREAM_TRACK_ID": STREAM_TRACK_ID,
    "USER_TOKEN": "test-token",
    "UPLOAD_VUS": "1",
    "STREAM_VUS": "2",
    "BROWSE_VUS": "3",
    "CHECKOUT_VUS": "1",
    "DURATION": "5s",
}
SEGMENT_BYTES = 191_948  # 1021 TS packets: 256 kbit/s x 6 s, rounded down to whole packets

_REMOTE_IMPORT = re.compile(
    r"^import\s+\{\s*textSummary\s*\}\s+from\s+'https://[^']+';[ \t]*$", re.M
)
_SHIM = (
    "// veza-ray test: the jslib import needs the internet; a one-line JSON summary instead.\n"
    "function textSummary(data) {\n"
    "  return JSON.stringify({ http_reqs: data.metrics.http_reqs.values }) + '\\n';\n"
    "}"
)


def localize_seed(source: str) -> str:
    """The seed minus its remote import; fails loudly if the seed no longer looks as expected."""
    localized, replaced = _REMOTE_IMPORT.subn(lambda _m: _SHIM, source)
    assert replaced == 1, "seed no longer imports textSummary from jslib; update the transform"
    assert "https://" not in "".join(
        line for line in localized.splitlines() if line.lstrip().startswith("import")
    ), "seed has another remote import"
    return localized


def stats_of(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=30) as resp:
        body: dict[str, Any] = json.load(resp)
        return body


def test_localize_seed_drops_only_the_remote_import() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed script not found at {SEED}")
    source = SEED.read_text()
    localized = localize_seed(source)
    assert "jslib.k6.io" not in localized
    assert "function textSummary(data)" in localized
    match = _REMOTE_IMPORT.search(source)
    assert match is not None
    assert localized.replace(_SHIM, match.group(0)) == source  # nothing else changed


@requires("k6")
def test_seed_script_against_emulator(tmp_path: Path) -> None:
    if not SEED.is_file():
        pytest.skip(f"seed script not found at {SEED} (expected ../shared/seed beside the repo)")
    k6 = find_k6()
    assert k6 is not None
    script = tmp_path / "k6_mixed_scenarios_local.js"
    script.write_text(localize_seed(SEED.read_text()))
    export = tmp_path / "summary-export.json"

    with EmulatorThread(EmulatorConfig(profile="fast")) as emu:
        values = {"BASE_URL": emu.base_url, **SEED_ENV}
        cmd = k6_argv(k6, script, "--no-color", *env_args(values), summary=export)
        proc = run_tool(cmd, cwd=tmp_path, timeout=K6_TIMEOUT_S)
        stats = stats_of(emu.base_url)

    output = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    # 99 = thresholds crossed: the seed's own gates fail against a validating backend.
    assert proc.returncode == 99, output
    metrics: dict[str, Any] = json.loads(export.read_text())["metrics"]
    failed_thresholds = {
        name for name, m in metrics.items() if any(m.get("thresholds", {}).values())
    }
    assert {"http_req_failed", "upload_errors"} <= failed_thresholds, failed_thresholds
    assert failed_thresholds.isdisjoint({"stream_errors", "browse_errors", "checkout_errors"})

    # Every request k6 made reached the emulator, and nothing else did.
    assert metrics["http_reqs"]["count"] == stats["total"] > 0, stats
    routes = stats["routes"]

    # The one check ('upload init 200') always holds; the other flows are clean.
    assert metrics["checks"]["fails"] == 0
    assert metrics["checks"]["passes"] == routes["upload_initiate"] > 0
    for flow in ("stream_errors", "browse_errors", "checkout_errors"):
        assert metrics[flow]["value"] == 0, (flow, metrics[flow])
    assert stats["route_statuses"]["hls_segment"] == {"200": routes["hls_segment"]}
    assert set(stats["statuses"]) == {"200", "400"}, stats["statuses"]

    # Defect 1: every chunk carries an empty X-Upload-Id -> 400; upload_errors = 10/11.
    upload = metrics["upload_errors"]
    assert routes["upload_chunk"] == 10 * routes["upload_initiate"]
    assert stats["route_statuses"]["upload_chunk"] == {"400": routes["upload_chunk"]}
    assert upload["passes"] == routes["upload_chunk"]  # Rate "passes" = samples that were true
    assert upload["fails"] == routes["upload_initiate"]
    assert upload["value"] == pytest.approx(10 / 11)
    assert stats["upload_bytes_accepted"] == 0
    assert metrics["upload_bytes"]["count"] == routes["upload_chunk"] * 2**20  # counted anyway

    # Defect 2: the expected checkout 400 is a failed request to k6, as are the chunk 400s.
    assert stats["route_statuses"]["order_create"] == {"400": routes["order_create"]}
    failed = metrics["http_req_failed"]
    assert (
        failed["passes"]
        == stats["statuses"]["400"]
        == (routes["upload_chunk"] + routes["order_create"])
    )
    assert failed["value"] > 0.005

    # Defect 3: segments are served in full but hls_segment_bytes never counts them.
    assert stats["bytes_sent_segments"] == routes["hls_segment"] * SEGMENT_BYTES > 0
    assert metrics.get("hls_segment_bytes", {}).get("count", 0) == 0

    # handleSummary still ran: the shim's JSON line and the seed's own summary file.
    assert '{"http_reqs":' in proc.stdout, output
    assert (tmp_path / "k6-summary.json").is_file()
