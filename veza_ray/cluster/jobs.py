"""`veza-ray submit`: a run as a Ray Job, with its exit code and files brought back.

The scenario file's directory goes to the cluster as the job's working_dir; the job's
entrypoint is ``python3 -m veza_ray.cluster.jobrun`` (see there), which runs ``veza-ray run`` on
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer

from veza_ray.cluster.interrupts import Interrupts, StopRequested
from veza_ray.cluster.jobrun import ENV_VAR, FrameError, FrameFilter, decode_frame
from veza_ray.core import exitcodes
from veza_ray.core.guards import redact, secret_values

PYTHON = "python3"  # the interpreter on the cluster's nodes (rayproject images have it)
EXCLUDES = [".git", "__pycache__", "*.pyc", ".venv", "node_modules"]
# After stop_job, Ray SIGTERMs the entrypoint and SIGKILLs it RAY_JOB_STOP_WAIT_TIME_S later
# (3 s by default). The job supervisor reads that variable from the job's own runtime_env,
# so a job can ask for the time a graceful stop needs (VUs' gracefulStop, then the summary).
JOB_STOP_WAIT_S = 60
STOP_WAIT_S = JOB_STOP_WAIT_S + 30.0
# Options of `run` that submit handles itself rather than passing on as they are.
_HANDLED = {"script", "env", "address", "summary_export", "html", "junit", "markdown", "out"}


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


def parse_run_args(run_command: Any, args: Sequence[str]) -> dict[str, Any]:
    """The arguments of `submit` read exactly as `run` reads them (typer's click command)."""
    try:
        ctx = run_command.make_context("veza-ray submit", list(args))
    except typer.Exit as exc:  # --help was printed
        raise SubmitError(int(getattr(exc, "exit_code", 0)), "") from None
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        raise SubmitError(exitcodes.INVALID_CONFIG, message) from None
    return dict(ctx.params)


def _flag_args(command: Any, params: Mapping[str, Any]) -> list[str]:
    """Every option not handled here, back as command-line flags (only non-defaults)."""
    out: list[str] = []
    for param in command.params:
        if param.param_type_name != "option" or param.name in _HANDLED or param.name is None:
            continue
        value = params.get(param.name)
        if value is None or value == param.default or value == []:
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            if value:
                out.append(flag)
        elif param.multiple:
            for item in value:
                out += [flag, str(item)]
        else:
            out += [flag, str(value)]
    return out


def plan_job(
    command: Any,
    params: Mapping[str, Any],
    env_pairs: Mapping[str, str],
    local_env: Mapping[str, str],
) -> JobPlan:
    """The entrypoint, env and outputs of the job for parsed `run` options. Pure."""
    script = os.path.abspath(str(params["script"]))
    # Name-based secrets and those named with --secret stay off the entrypoint.
    secrets = tuple(secret_values(env_pairs, params.get("secret") or ()))
    public = [f"{k}={v}" for k, v in env_pairs.items() if v not in secrets]
    hidden = [f"{k}={v}" for k, v in env_pairs.items() if v in secrets]
    outputs: dict[str, str] = {}
    for flag, name in (
        ("--summary-export", "summary_export"),
        ("--html", "html"),
        ("--junit", "junit"),
        ("--markdown", "markdown"),
    ):
        if params.get(name) and params[name] != "-":
            outputs[flag] = str(params[name])
    run_args = [os.path.basename(script)]
    for pair in public:
        run_args += ["-e", pair]
    if params.get("markdown") == "-":
        run_args += ["--markdown", "-"]
    for item in params.get("out") or []:
        kind, _, value = str(item).partition("=")
        if kind == "json":
            outputs["--out json="] = value
        else:
            run_args += ["--out", str(item)]
    run_args += _flag_args(command, params)
    collect = [arg for flag in outputs for arg in ("--collect", flag)]
    entrypoint = shlex.join(
        [PYTHON, "-m", "veza_ray.cluster.jobrun", *collect, "--", "run", *run_args]
    )
    env_vars = {"RAY_JOB_STOP_WAIT_TIME_S": str(JOB_STOP_WAIT_S)}
    if hidden:
        env_vars[ENV_VAR] = json.dumps(hidden)
    if local_env.get("VEZA_RAY_ALLOW_HOSTS"):
        env_vars["VEZA_RAY_ALLOW_HOSTS"] = local_env["VEZA_RAY_ALLOW_HOSTS"]
    return JobPlan(
        address=params.get("address"),
        working_dir=os.path.dirname(script),
        entrypoint=entrypoint,
        env_vars=env_vars,
        outputs=outputs,
        secrets=secrets,
    )


def _validate(params: Mapping[str, Any], env_pairs: dict[str, str]) -> None:
    """The checks `run` makes before it connects: script, options, hosts, output paths."""
    from veza_ray.cluster.driver import RunConfig, RunError, prepare

    if params["spread"] not in ("spread", "strict"):
        raise SubmitError(
            exitcodes.INVALID_CONFIG, f"--spread {params['spread']!r}: use 'spread' or 'strict'"
        )
    if params.get("merge_tree", "auto") not in ("auto", "on", "off"):
        raise SubmitError(
            exitcodes.INVALID_CONFIG,
            f"--merge-tree {params['merge_tree']!r}: use auto, on or off",
        )
    if params["actors_per_node"] and params["actors"]:
        raise SubmitError(
            exitcodes.INVALID_CONFIG, "use either --actors or --actors-per-node, not both"
        )
    json_out = [str(o).partition("=")[2] for o in params["out"] if str(o).startswith("json=")]
    for item in params["out"]:
        kind, sep, value = str(item).partition("=")
        if kind not in ("json", "prometheus") or not sep or not value:
            raise SubmitError(
                exitcodes.INVALID_CONFIG,
                f"--out {item!r}: use json=PATH or prometheus=URL (a remote-write endpoint)",
            )
    prom = [str(o).partition("=")[2] for o in params["out"] if str(o).startswith("prometheus=")]
    cfg = RunConfig(
        script_path=str(params["script"]),
        env_overrides=dict(env_pairs),
        actors=params["actors"],
        summary_export=params["summary_export"],
        trend_stats=params["summary_trend_stats"],
        allow_hosts=list(params["allow_host"]),
        ndjson_path=json_out[-1] if json_out else None,
        prometheus_url=prom[-1] if prom else None,
        html=params["html"],
        junit=params["junit"],
        markdown=params["markdown"],
    )
    try:
        prepare(cfg)
    except RunError as exc:
        raise SubmitError(exc.code, str(exc)) from None


def _env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SubmitError(exitcodes.INVALID_CONFIG, f"-e {pair!r}: write it as NAME=VALUE")
        out[name] = value
    return out


def _write_files(plan: JobPlan, files: Mapping[str, bytes], err: Callable[[str], None]) -> None:
    for flag, path in plan.outputs.items():
        data = files.get(flag)
        if data is None:
            err(f"veza-ray: the job wrote no {flag} file; {path} not written")
            continue
        tmp = f"{path}.part-{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        err(f"veza-ray: wrote {flag.rstrip('=')} to {path}")


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
        _write_files(self.plan, result.files, self.err)
        code = exitcodes.EXTERNAL_ABORT if status == "STOPPED" else result.code
        self.err(f"veza-ray: job {self.job_id} ended {status}; the run exited {result.code}")
        return code

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


def submit(
    run_command: Any,
    args: Sequence[str],
    interrupts: Interrupts | None,
    out: Callable[[str], None] = lambda s: print(s, flush=True),
    err: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> int:
    """`veza-ray submit ARGS`: the exit code of the run the job carried (or 104/105/111)."""
    params = parse_run_args(run_command, args)
    env_pairs = _env_pairs(params["env"])
    address = params.get("address")
    if address and not str(address).startswith(("http://", "https://")):
        raise SubmitError(
            exitcodes.INVALID_CONFIG,
            f"--address {address!r}: submit needs the Ray Jobs API of the head's dashboard, "
            "e.g. http://HEAD:8265 (not the GCS port 6379 or a ray:// address)",
        )
    _validate(params, env_pairs)
    plan = plan_job(run_command, params, env_pairs, os.environ)
    try:
        import logging

        from veza_ray.cluster.jobsapi import BoundedJobClient

        # The SDK logs "WebSocket closed" at INFO when a job's log ends; it is not news.
        logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
        client = BoundedJobClient(plan.address)  # every answer under a cap and a deadline
    except (StopRequested, KeyboardInterrupt):
        return exitcodes.EXTERNAL_ABORT
    except Exception as exc:
        where = plan.address or os.environ.get("RAY_API_SERVER_ADDRESS") or "RAY_ADDRESS"
        raise SubmitError(
            exitcodes.CLUSTER_ERROR,
            f"cannot reach the Ray Jobs API at {where}: "
            f"{redact(str(exc), _ray_token()).strip().splitlines()[0]}",
        ) from None
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
