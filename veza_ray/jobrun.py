"""The entrypoint of a Ray Job that `veza-ray submit` started: a run, then its results.

Ray Jobs keep only a status (SUCCEEDED/FAILED/STOPPED), the driver's exit code and the
job's log; the files a run writes stay on the head. So this wrapper runs ``veza-ray run``
in-process with every asked-for output file in a temporary directory, and at the end
prints the run's exit code and those files as one framed block at the end of the log.
The submitter strips the block from what it shows and writes the files where they were
asked for on the submitting machine::

    python3 -m veza_ray.jobrun --collect --summary-export --collect --html -- run s.py ...

``-e`` values the guard treats as secrets arrive in the VEZA_RAY_JOB_ENV variable (JSON,
set through the job's runtime_env) instead of on the command line, which the dashboard
and the job log show. The run is started in-process, so they never appear in ``ps``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

from veza_ray.core import exitcodes
from veza_ray.core.jobframe import (
    COLLECTABLE,
    ENV_VAR,
    FrameError,
    JobResult,
    decode_frame,
    encode_frame,
    secret_env_args,
)
from veza_ray.core.output_kinds import BY_FLAG

__all__ = ["extract", "main", "output_args", "parse_argv"]


def output_args(collect: Sequence[str], folder: str) -> tuple[list[str], dict[str, str]]:
    """The run's output flags pointing into ``folder``, and the path of each flag's file."""
    args: list[str] = []
    paths: dict[str, str] = {}
    for flag in collect:
        if flag not in COLLECTABLE:
            raise ValueError(f"cannot collect {flag!r}; one of {', '.join(COLLECTABLE)}")
        path = os.path.join(folder, COLLECTABLE[flag])
        paths[flag] = path
        kind = BY_FLAG[flag]
        args += ["--out", f"{kind.kind}={path}"] if kind.via_out else [flag, path]
    return args, paths


def parse_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``[--collect FLAG]... -- run ARGS...`` -> (flags to collect, the run's argv)."""
    collect: list[str] = []
    rest = list(argv)
    while rest and rest[0] == "--collect":
        if len(rest) < 2:
            raise ValueError("--collect needs a flag")
        collect.append(rest[1])
        rest = rest[2:]
    if not rest or rest[0] != "--" or len(rest) < 2 or rest[1] != "run":
        raise ValueError("usage: python -m veza_ray.jobrun [--collect FLAG]... -- run SCRIPT ...")
    return collect, rest[1:]


def _run_cli(argv: list[str]) -> int:
    """``veza-ray`` in this process, as its console entry point runs it; the exit code."""
    from veza_ray.cli import app
    from veza_ray.cluster.interrupts import Interrupts, StopRequested
    from veza_ray.outputs.stdstreams import guard_std_streams

    guard_std_streams()  # the job log's reader may go too: never the run's exit code
    interrupts = Interrupts().install()
    try:
        app(args=argv, obj=interrupts, prog_name="veza-ray")
    except SystemExit as exc:
        if exc.code is None:
            return exitcodes.OK
        return exc.code if isinstance(exc.code, int) else 1
    except (KeyboardInterrupt, StopRequested):
        return exitcodes.EXTERNAL_ABORT
    return exitcodes.OK


def extract(log: str, folder: str) -> int:
    """``--extract DIR``: a job log (stdin) -> the files in DIR; the run's exit code.

    For a job someone else submitted (KubeRay's RayJob): ``kubectl logs job/NAME |
    python3 -m veza_ray.jobrun --extract out/`` gives CI the run's verdict and reports.
    """
    try:
        result = decode_frame(log)
    except FrameError as exc:
        print(f"veza-ray job: {exc}", file=sys.stderr)
        return exitcodes.CLUSTER_ERROR
    os.makedirs(folder, exist_ok=True)
    for flag, data in sorted(result.files.items()):
        path = os.path.join(folder, COLLECTABLE.get(flag, "unknown.bin"))
        with open(path, "wb") as fh:
            fh.write(data)
        print(f"veza-ray job: wrote {flag.rstrip('=')} to {path}", file=sys.stderr)
    print(f"veza-ray job: the run exited {result.code}", file=sys.stderr)
    return result.code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--extract"]:
        if len(args) != 2:
            print(
                "usage: python -m veza_ray.jobrun --extract DIR < job.log",
                file=sys.stderr,
            )
            return exitcodes.INVALID_CONFIG
        return extract(sys.stdin.read(), args[1])
    try:
        collect, run_argv = parse_argv(args)
        secret_args = secret_env_args(os.environ.pop(ENV_VAR, None))
    except ValueError as exc:
        print(f"veza-ray job: {exc}", file=sys.stderr)
        return exitcodes.INVALID_CONFIG
    folder = tempfile.mkdtemp(prefix="veza-ray-job-")
    here = os.getcwd()
    try:
        _own_working_dir(folder)
        extra, paths = output_args(collect, folder)
        code = _run_cli([*run_argv, *extra, *secret_args])
        files: dict[str, bytes] = {}
        for flag, path in paths.items():
            if os.path.isfile(path):
                with open(path, "rb") as fh:
                    files[flag] = fh.read()
        sys.stderr.flush()
        sys.stdout.flush()
        print("\n" + "\n".join(encode_frame(JobResult(code, files))), flush=True)
        return code
    finally:
        os.chdir(here)  # never left in a folder about to be removed
        shutil.rmtree(folder, ignore_errors=True)


def _own_working_dir(folder: str) -> None:
    """Run in a copy of the job's working dir that lives as long as this process. Ray
    deletes the unpacked working_dir once no worker holds it, which can be when the run's
    actors exit, before the summary is written: handle_summary's relative files then had
    no directory to land in (a lost output)."""
    here = os.getcwd()
    work = os.path.join(folder, "work")
    shutil.copytree(here, work, symlinks=True)
    os.chdir(work)


if __name__ == "__main__":
    sys.exit(main())
