"""A hostile remote-write endpoint during a real run: a failed push, never the run.

The same small plan runs with ``--out prometheus=`` pointing at a well-behaved endpoint
(the reference) and at each hostile answer of tests/hostile.py. The run's verdict and
request count must not change, the outcome must name the lost push (exit 113), and
the driver's peak RSS must stay within the reference's plus what the answer cap allows
(before the cap, an endless answer took the driver to 1.5 GB in seconds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from driverwatch import run_watched
from hostile import Hostile
from prom import Endpoint
from servers import KnownServer, write_script

from veza_ray.readcap import PUSH_ANSWER_CAP

pytestmark = pytest.mark.ray

SLACK = 48 * 1024 * 1024  # run-to-run noise of the driver's RSS, measured: under 10 MiB
PLAN = """
from veza_ray import env

options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 4, "iterations": 400,
                               "maxDuration": "60s"}}}

async def default(vu):
    await vu.http.get(env("URL") + "/hit/p", tags={"name": "p"})
"""


def _run(tmp: Path, target: str, push_url: str) -> tuple[int, dict[str, Any], int]:
    script = write_script(tmp, PLAN)
    code, lines, peak = run_watched(
        [
            "run",
            script,
            "--actors",
            "1",
            "-e",
            f"URL={target}",
            "--out",
            f"prometheus={push_url}",
            "--summary-export",
            str(tmp / "s.json"),
            "--quiet",
            "--no-preflight",
        ]
    )
    assert (tmp / "s.json").exists(), "\n".join(line for _, line in lines)
    return code, json.loads((tmp / "s.json").read_text()), peak


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> int:
    with KnownServer() as srv, Endpoint() as ep:
        code, summary, peak = _run(tmp_path_factory.mktemp("ref"), srv.url, ep.url)
    assert code == 0 and summary["metrics"]["http_reqs"]["values"]["count"] == 400
    assert summary["veza_ray"]["outcome"]["notes"] == []
    return peak


@pytest.mark.parametrize("mode", ["endless", "chunked", "trickle"])
def test_a_hostile_endpoint_is_a_failed_push_with_a_note(
    tmp_path: Path, known_server: KnownServer, mode: str, reference: int
) -> None:
    with Hostile(mode) as h:
        code, summary, peak = _run(tmp_path, known_server.url, h.url + "/api/v1/write")
        assert h.requests >= 1  # the push really went to it
    # The load passed; what the endpoint broke is an output lost (113, docs/security.md
    # "Outputs"), named in the outcome: never the driver's memory, never a silent 0.
    assert code == 113
    assert summary["metrics"]["http_reqs"]["values"]["count"] == 400
    reasons = summary["veza_ray"]["outcome"]["reasons"]
    assert reasons and all("prometheus" in r for r in reasons), reasons
    why = "larger than 64 KiB" if mode != "trickle" else "within"
    assert why in summary["veza_ray"]["outputs"]["prometheus"]["last_error"]
    bound = reference + 2 * PUSH_ANSWER_CAP + SLACK
    assert peak < bound, f"driver RSS {peak / 2**20:.0f} MiB, reference {reference / 2**20:.0f}"
    print(f"{mode}: driver peak {peak / 2**20:.0f} MiB (reference {reference / 2**20:.0f} MiB)")
