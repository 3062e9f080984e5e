"""The web dashboard under ``veza-ray submit``: the job's entrypoint (what Ray runs on the
head) starts it from the configuration submit checked, prints its address in the job's
log, answers k6's ``/v1/status``, and a stop from it ends the job's run with 105 and the
summary handed back."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from servers import KnownServer, write_script

from veza_ray.cluster.jobs import plan_job
from veza_ray.core.jobframe import decode_frame
from veza_ray.core.runconfig import RunConfig

pytestmark = pytest.mark.ray

SCRIPT = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "120s"}}}

async def default(vu):
    await vu.http.get(env("URL") + "/fast")
"""


def _call(url: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + "v1/status", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc["data"]["attributes"]


def test_the_job_serves_the_dashboard_and_stops_from_it(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(tmp_path, SCRIPT)
    cfg = RunConfig(
        script_path=script,
        env_overrides={"URL": known_server.url},
        actors=1,
        quiet=True,
        outputs={
            "summary": str(tmp_path / "local.json"),
            "web-dashboard": "host=127.0.0.1&port=0&period=1s&open=false",
        },
    )
    plan = plan_job(cfg, {})
    assert "web-dashboard=host=127.0.0.1" in plan.entrypoint
    proc = subprocess.Popen(
        shlex.split(plan.entrypoint),
        cwd=plan.working_dir,
        env={**os.environ, **plan.env_vars},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    url, lines = "", []
    for line in proc.stderr:  # the job's log: the address is printed there
        lines.append(line)
        m = re.search(r"web dashboard on (http://[^ /]+/)", line)
        if m:
            url = m.group(1)
            break
    try:
        assert url, "".join(lines)
        assert _call(url)["running"] is True
        for _ in range(600):  # bounded: until the load has arrived (or the run ended)
            if known_server.total > 10 or proc.poll() is not None:
                break
            time.sleep(0.1)
        stopped = _call(url, "PATCH", {"data": {"attributes": {"stopped": True}}})
        assert stopped["stopped"] is True
        stdout = proc.stdout.read()
        lines += proc.stderr.readlines()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    result = decode_frame(stdout)
    assert result.code == proc.returncode == 105, "".join(lines)
    summary = json.loads(result.files["--summary-export"])
    assert summary["veza_ray"]["outputs"]["web-dashboard"]["stopped_from_page"] is True
    assert summary["metrics"]["http_reqs"]["values"]["count"] == known_server.total
