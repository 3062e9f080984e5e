"""Every bad input: one clear line naming the bad part, k6's exit code, and no request."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from cli import CLI
from servers import KnownServer

GOOD_FLOW = """
from veza_ray import env
async def default(vu):
    await vu.http.get(env("URL") + "/fast")
"""

CASES = [
    pytest.param(
        'options = {"thresholds": {"http_req_duration": ["p(95)<<500"]}}',
        [],
        104,
        "p(95)<<500",
        id="malformed-threshold",
    ),
    pytest.param(
        'options = {"thresholds": {"http_req_duraton": ["p(95)<500"]}}',
        [],
        104,
        "http_req_duraton",
        id="unknown-metric",
    ),
    pytest.param(
        'options = {"thresholds": {"http_reqs": ["p(95)<500"]}}',
        [],
        104,
        "http_reqs",
        id="aggregation-does-not-fit",
    ),
    pytest.param(
        'options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",'
        ' "exec": "nope"}}}',
        [],
        104,
        "'nope'",
        id="exec-names-no-function",
    ),
    pytest.param(
        'options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 5,'
        ' "iterations": 2}}}',
        [],
        104,
        "scenarios.s.iterations",
        id="bad-executor-settings",
    ),
    pytest.param(
        'options = {"scenarios": {"s": {"executor": "constant-vus", "duraton": "1s"}}}',
        [],
        104,
        "scenarios.s.duraton",
        id="unknown-scenario-key",
    ),
    pytest.param("options = {", [], 107, "syntax error", id="syntax-error"),
    pytest.param(
        "import no_such_module_xyz\noptions = {}", [], 107, "no_such_module_xyz", id="import-error"
    ),
    pytest.param("options = {}", ["-e", "NOEQUALS"], 104, "NOEQUALS", id="bad-env-flag"),
    pytest.param(
        "options = {}", ["--summary-trend-stats", "avg,p(200)"], 104, "p(200)", id="bad-trend-stats"
    ),
    pytest.param("options = {}", ["--merge-tree", "always"], 104, "--merge-tree", id="merge-tree"),
    pytest.param(
        "options = {}",
        ["-e", "VEZA_RAY_HTTP_CLIENT=aiohttp"],
        104,
        # the aiohttp client path is gone: the variable is refused, not silently ignored
        "VEZA_RAY_HTTP_CLIENT is no longer supported",
        id="removed-http-client",
    ),
]


@pytest.mark.parametrize(("options", "flags", "code", "needle"), CASES)
def test_bad_input_is_refused_before_any_traffic(
    tmp_path: Path,
    known_server: KnownServer,
    options: str,
    flags: list[str],
    code: int,
    needle: str,
) -> None:
    path = tmp_path / "scenario.py"
    path.write_text(textwrap.dedent(options + "\n" + GOOD_FLOW))
    res = subprocess.run(
        [
            *CLI,
            "run",
            str(path),
            "-e",
            f"URL={known_server.url}",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert res.returncode == code, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert lines[0].startswith("veza-ray: ")
    assert known_server.total == 0
    assert res.stdout == ""


def test_missing_file_is_107(tmp_path: Path) -> None:
    res = subprocess.run(
        [*CLI, "run", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 107
    assert "nope.py" in res.stderr
