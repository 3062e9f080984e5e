"""`veza-ray submit`: a run as a Ray Job, with its exit code and files brought back.

The scenario file's directory goes to the cluster as the job's working_dir; the job's
entrypoint is ``python3 -m veza_ray.jobrun`` (see there), which runs ``veza-ray run`` on
the head and ends the job log with the run's exit code and output files in a frame. Here
the script and every option are checked first (104/107 need no cluster), the job is
submitted with Ray's job SDK, its log is followed live without the frame, and the files
are written at the paths asked for. The exit code is the run's own (0, 99, 103, ...),
not Ray's SUCCEEDED/FAILED; Ctrl-C stops the job and exits 105.

Token auth: the job SDK itself sends ``Authorization: Bearer $RAY_AUTH_TOKEN`` on every
request (and the log websocket) when RAY_AUTH_MODE=token; the token is never printed here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from veza_ray.cluster.interrupts import Interrupts, StopRequested
from veza_ray.core import exitcodes
from veza_ray.core.guards import redact, secret_values
from veza_ray.core.jobframe import ENV_VAR, FrameError, FrameFilter, decode_frame
from veza_ray.core.outcome import after_local_outputs
from veza_ray.core.output_kinds import BY_KIND, OUTPUTS
from veza_ray.core.runconfig import RunConfig, to_argv
from veza_ray.outputs.files import write_file

PYTHON = "python3"  # the interpreter on the cluster's nodes (rayproject images have it)
EXCLUDES = [".git", "__pycache__", "*.pyc", ".venv", "node_modules"]
# After stop_job, Ray SIGTERMs the entrypoint and SIGKILLs it RAY_JOB_STOP_WAIT_TIME_S later
# (3 s by default). The job supervisor reads that variable from the job's own runtime_env,
# so a job can ask for the time a graceful stop needs (VUs' gracefulStop, then the summary).
JOB_STOP_WAIT_S = 60
STOP_WAIT_S = JOB_STOP_WAIT_S + 30.0


class SubmitError(Exception):
    """A submit that cannot go on; carries the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class JobPlan:
    """What will be submitted, decided before any connection to the cluster."""

    address: str | None
    working_dir: str
    entrypoint: str
    env_vars: dict[str, str]
    outputs: dict[str, str]  # collectable flag -> local path to write
    secrets: tuple[str, ...]
    allow_output_loss: bool = False


def plan_job(cfg: RunConfig, local_env: Mapping[str, str]) -> JobPlan:
    """The entrypoint, env and outputs of the job for a checked run configuration. Pure.

    The job runs ``to_argv`` of the same configuration, less what stays here: the
    dashboard address, secret ``-e`` values (they travel in the job's env instead of on
    the entrypoint the dashboard shows) and local output paths (the job collects those
    files into its own folder and hands them back).
    """
    script = os.path.abspath(cfg.script_path)
    # Name-based secrets and those named with --secret stay off the entrypoint.
    secrets = tuple(secret_values(cfg.env_overrides, cfg.secret_names))
    public = {k: v for k, v in cfg.env_overrides.items() if v not in secrets}
    hidden = [f"{k}={v}" for k, v in cfg.env_overrides.items() if v in secrets]
    outputs = _collected(cfg)
    kept = {k: v for k, v in cfg.outputs.items() if BY_KIND[k].flag not in outputs}
    job_cfg = replace(
        cfg,
        script_path=os.path.basename(script),
        env_overrides=public,
        address=None,
        outputs=kept,
    )
    collect = [arg for flag in outputs for arg in ("--collect", flag)]
    entrypoint = shlex.join(
        [PYTHON, "-m", "veza_ray.jobrun", *collect, "--", "run", *to_argv(job_cfg)]
    )
    env_vars = {"RAY_JOB_STOP_WAIT_TIME_S": str(JOB_STOP_WAIT_S)}
    if hidden:
        env_vars[ENV_VAR] = json.dumps(hidden)
    if local_env.get("VEZA_RAY_ALLOW_HOSTS"):
        env_vars["VEZA_RAY_ALLOW_HOSTS"] = local_env["VEZA_RAY_ALLOW_HOSTS"]
    return JobPlan(
        address=cfg.address,
        working_dir=os.path.dirname(script),
        entrypoint=entrypoint,
        env_vars=env_vars,
        outputs=outputs,
        secrets=secrets,
        allow_output_loss=cfg.allow_output_loss,
    )


def _collected(cfg: RunConfig) -> dict[str, str]:
    """Collectable flag -> local path, for every file output the job brings back."""
    out = {}
    for o in OUTPUTS:
        path = cfg.outputs.get(o.kind)
        if path and o.job_file is not None and not (o.stdout_ok and path == "-"):
            out[o.flag] = path
    return out


def _validate(cfg: RunConfig) -> None:
    """The checks `run` makes before it connects: script, options, hosts, output paths."""
    from veza_ray.cluster.driver import RunError, prepare

    try:
        prepare(cfg)
    except RunError as exc:
        raise SubmitError(exc.code, str(exc)) from None


def _write_files(
    plan: JobPlan, files: Mapping[str, bytes], err: Callable[[str], None]
) -> list[str]:
    """Write what the job brought back where it was asked for; what could not be."""
    lost = []
    for flag, path in plan.outputs.items():
        label = f"{flag}{path}" if flag.endswith("=") else f"{flag} {path}"
        data = files.get(flag)
        if data is None:
            lost.append(f"{label}: the job handed back no such file")
            continue
        failure = write_file(label, path, data)
        if failure:
            lost.append(failure)
        else:
            err(f"veza-ray: wrote {flag.rstrip('=')} to {path}")
    for line in lost:
        err(f"veza-ray: output lost: {line}")
    return lost


class Submitter:
    """One job's life on the submitting side: submit, follow, collect, stop on a signal."""

    def __init__(
        self,
        plan: JobPlan,
        client: Any,
        out: Callable[[str], None],
        err: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.client = client
        self.out = out
        self.err = err
        self.hide = [*plan.secrets, *_ray_token()]
        self.job_id = f"veza-ray-{uuid.uuid4().hex[:12]}"

    def submit(self) -> None:
        runtime_env: dict[str, Any] = {
            "working_dir": self.plan.working_dir,
            "excludes": EXCLUDES,
            "env_vars": dict(self.plan.env_vars),
        }
        self.client.submit_job(
            entrypoint=self.plan.entrypoint,
            submission_id=self.job_id,
            runtime_env=runtime_env,
            metadata={"tool": "veza-ray"},
        )
        self.err(f"veza-ray: submitted Ray Job {self.job_id} to {self.client.get_address()}")

    async def _follow(self) -> None:
        frame = FrameFilter()
        async for chunk in self.client.tail_job_logs(self.job_id):
            shown = frame.feed(chunk)
            if shown:
                self.out(redact(shown, self.hide).rstrip("\n"))
        rest = frame.flush()
        if rest:
            self.out(redact(rest, self.hide))

    def follow(self) -> None:
        """Show the job's log as it grows (the result frame cut out) until the job ends."""
        try:
            asyncio.run(self._follow())
        except (StopRequested, KeyboardInterrupt):
            raise
        except Exception as exc:  # the websocket dropped: the result is still in the log
            self.err(f"veza-ray: lost the live log ({exc}); waiting for the job to end")

    def wait(self, timeout_s: float | None = None) -> Any:
        """Poll (bounded when timeout_s is given) until the job is in a terminal state."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            info = self.client.get_job_info(self.job_id)
            if info.status.is_terminal():
                return info
            if deadline is not None and time.monotonic() > deadline:
                return info
            time.sleep(0.5)

    def collect(self, info: Any) -> int:
        """Write the files the job brought back; the run's exit code."""
        status = str(getattr(info.status, "value", info.status))
        try:
            result = decode_frame(self.client.get_job_logs(self.job_id))
        except FrameError as exc:
            if status == "STOPPED":
                self.err(f"veza-ray: job {self.job_id} STOPPED before it handed back its files")
                return exitcodes.EXTERNAL_ABORT
            message = redact(str(info.message or exc), self.hide)
            self.err(
                f"veza-ray: job {self.job_id} ended {status} "
                f"(driver exit code {info.driver_exit_code}) without a veza-ray result: "
                f"{message}"
            )
            return exitcodes.CLUSTER_ERROR
        lost = _write_files(self.plan, result.files, self.err)
        code = exitcodes.EXTERNAL_ABORT if status == "STOPPED" else result.code
        self.err(f"veza-ray: job {self.job_id} ended {status}; the run exited {result.code}")
        final = after_local_outputs(code, lost, self.plan.allow_output_loss)
        if final != code:
            self.err(f"veza-ray: FAIL (exit {final}): {len(lost)} output(s) lost here: {lost[0]}")
        return final

    def stop(self) -> int:
        """Ctrl-C here: stop the job on the cluster, keep what it handed back, exit 105."""
        self.err(f"veza-ray: stopping Ray Job {self.job_id}")
        try:
            self.client.stop_job(self.job_id)
            info = self.wait(STOP_WAIT_S)
            self.collect(info)
        except Exception as exc:  # the job may not exist yet, or the cluster is gone
            self.err(f"veza-ray: could not confirm the stop of {self.job_id}: {exc}")
        return exitcodes.EXTERNAL_ABORT


def _ray_token() -> list[str]:
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    return [token] if len(token) >= 4 else []


def _client(plan: JobPlan) -> Any:
    """The Jobs API client of ``plan.address`` (None when stopped while it connected); a
    head that cannot be reached, or refuses our credentials, is a SubmitError (111)."""
    where = plan.address or os.environ.get("RAY_API_SERVER_ADDRESS") or "RAY_ADDRESS"

    def failed(exc: Exception) -> SubmitError:
        first = redact(str(exc), _ray_token()).strip().splitlines()[0]
        return SubmitError(
            exitcodes.CLUSTER_ERROR, f"cannot reach the Ray Jobs API at {where}: {first}"
        )

    try:
        import logging

        from veza_ray.cluster.jobsapi import BoundedJobClient, JobsAuthError

        # The SDK logs "WebSocket closed" at INFO when a job's log ends; it is not news.
        logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    except (StopRequested, KeyboardInterrupt):
        return None
    except Exception as exc:  # Ray's job SDK itself could not be loaded
        raise failed(exc) from None
    try:
        return BoundedJobClient(plan.address)  # every answer under a cap and a deadline
    except (StopRequested, KeyboardInterrupt):
        return None
    except JobsAuthError as exc:  # Ray's token auth answers 401/403: say what to check
        raise SubmitError(
            exitcodes.CLUSTER_ERROR,
            # "MODE=token" would print as "MODE=***": the redactor hides NAME=value pairs
            f"the Ray Jobs API at {where} refused the request ({exc}): set RAY_AUTH_MODE "
            "to token and RAY_AUTH_TOKEN to the cluster's token",
        ) from None
    except Exception as exc:
        raise failed(exc) from None


def submit(
    cfg: RunConfig,
    interrupts: Interrupts | None,
    out: Callable[[str], None] = lambda s: print(s, flush=True),
    err: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> int:
    """`veza-ray submit ARGS`: the exit code of the run the job carried (or 104/105/111)."""
    address = cfg.address
    if address and not str(address).startswith(("http://", "https://")):
        raise SubmitError(
            exitcodes.INVALID_CONFIG,
            f"--address {address!r}: submit needs the Ray Jobs API of the head's dashboard, "
            "e.g. http://HEAD:8265 (not the GCS port 6379 or a ray:// address)",
        )
    _validate(cfg)
    plan = plan_job(cfg, os.environ)
    client = _client(plan)
    if client is None:
        return exitcodes.EXTERNAL_ABORT
    job = Submitter(plan, client, out, err)
    try:
        try:
            job.submit()
        except (StopRequested, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise SubmitError(
                exitcodes.CLUSTER_ERROR,
                f"the job was not accepted: {redact(str(exc), job.hide).strip()}",
            ) from None
        job.follow()
        try:
            return job.collect(job.wait())
        except (StopRequested, KeyboardInterrupt):
            raise
        except Exception as exc:  # the head went away while the job ran
            raise SubmitError(
                exitcodes.CLUSTER_ERROR,
                f"lost the Ray Jobs API while job {job.job_id} ran: "
                f"{redact(str(exc), job.hide).strip()}",
            ) from None
    except (StopRequested, KeyboardInterrupt):
        if interrupts is not None:
            interrupts.raising = False  # a second Ctrl-C must not cut the stop short
        return job.stop()
