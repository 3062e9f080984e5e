"""The Ray job's entry point run here, as a job would run it on the head: the plan that
`submit` makes from a RunConfig is carried out with that configuration, and the result
frame brings back its exit code and files (no Ray Jobs API needed; the job itself is
tests/e2e/test_jobs_e2e.py on the namespaced cluster)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from servers import KnownServer, write_script

from veza_ray.cluster.jobs import _write_files, plan_job
from veza_ray.core.jobframe import decode_frame
from veza_ray.core.outcome import after_local_outputs
from veza_ray.core.runconfig import RunConfig

SCRIPT = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 2, "iterations": 20}}}

async def default(vu):
    await vu.http.get(env("URL") + "/fast", headers={"X-Session": env("SESSION")})
"""


@pytest.mark.ray
def test_the_job_runs_the_configuration_submit_checked(
    tmp_path: Path, known_server: KnownServer
) -> None:
    script = write_script(tmp_path, SCRIPT)
    cfg = RunConfig(
        script_path=script,
        env_overrides={"URL": known_server.url, "SESSION": "hush-hush-canary"},
        secret_names=["SESSION"],
        actors_per_node=1,
        spread="strict",
        merge_tree="off",
        quiet=True,
        outputs={"summary": str(tmp_path / "local.json"), "junit": str(tmp_path / "j.xml")},
    )
    plan = plan_job(cfg, {})
    assert "hush-hush-canary" not in plan.entrypoint
    res = subprocess.run(
        shlex.split(plan.entrypoint),
        cwd=plan.working_dir,
        env={**os.environ, **plan.env_vars},
        capture_output=True,
        text=True,
    )
    result = decode_frame(res.stdout)
    assert result.code == res.returncode == 0, res.stderr
    assert set(result.files) == {"--summary-export", "--junit"}
    summary = json.loads(result.files["--summary-export"])
    assert summary["metrics"]["http_reqs"]["values"]["count"] == 20 == known_server.total
    # the run had the options the submitter checked: one actor, merged by the driver
    assert len(summary["veza_ray"]["actors"]) == 1
    assert summary["veza_ray"]["nodes"][0]["aggregator"]["status"].startswith("none")
    assert "hush-hush-canary" not in res.stdout + res.stderr
    # back on the submitting side: one file lands, one cannot (a full device)
    back = replace(plan, outputs={**plan.outputs, "--junit": "/dev/full"})
    lost = _write_files(back, result.files, lambda s: None)
    assert len(lost) == 1 and lost[0].startswith("--junit /dev/full: No space left on device")
    assert json.loads((tmp_path / "local.json").read_text()) == summary
    assert after_local_outputs(result.code, lost, cfg.allow_output_loss) == 113
