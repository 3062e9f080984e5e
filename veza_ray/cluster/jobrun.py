"""The entrypoint of a Ray Job that `veza-ray submit` started: a run, then its results.

Ray Jobs keep only a status (SUCCEEDED/FAILED/STOPPED), the driver's exit code and the
job's log; the files a run writes stay on the head. So this wrapper runs ``veza-ray run``
in-process with every asked-for output file in a temporary directory, and at the end
prints the run's exit code and those files as one framed block at the end of the log.
The submitter strips the block from what it shows and writes the files where they were
asked for on the submitting machine::

    python3 -m veza_ray.cluster.jobrun --collect --summary-export --collect --html -- run s.py ...

``-e`` values the guard treats as secrets arrive in the VEZA_RAY_JOB_ENV variable (JSON,
set through the job's runtime_env) instead of on the command line, which the dashboard
and the job log show. The run is started in-process, so they never appear in ``ps``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ENV_VAR = "VEZA_RAY_JOB_ENV"
FRAME_BEGIN = "=====veza-ray-job-result-v1 begin====="
FRAME_END = "=====veza-ray-job-result-v1 end====="
LINE_WIDTH = 4096  # base64 characters per frame line, so no log line is megabytes long

# The output flags the wrapper can collect, and the file name each gets on the head.
COLLECTABLE = {
    "--summary-export": "summary.json",
    "--html": "report.html",
    "--junit": "junit.xml",
    "--markdown": "summary.md",
    "--out json=": "metrics.ndjson",
}


@dataclass(frozen=True)
class JobResult:
    """What the job hands back: the run's exit code and the collected files by flag."""

    code: int
    files: dict[str, bytes] = field(default_factory=dict)


def encode_frame(result: JobResult) -> list[str]:
    """The framed lines to print: begin marker, base64 of zlib(JSON) lines, end marker."""
    doc = {
        "code": result.code,
        "files": {k: base64.b64encode(v).decode() for k, v in result.files.items()},
    }
    blob = base64.b64encode(zlib.compress(json.dumps(doc).encode(), 6)).decode()
    chunks = [blob[i : i + LINE_WIDTH] for i in range(0, len(blob), LINE_WIDTH)] or [""]
    return [FRAME_BEGIN, *chunks, FRAME_END]


class FrameError(ValueError):
    """The job log has no complete, readable result frame."""


def decode_frame(log: str) -> JobResult:
    """The last complete frame in a job log (an earlier one could only be a script's print)."""
    lines = log.splitlines()
    try:
        end = len(lines) - 1 - lines[::-1].index(FRAME_END)
        begin = end - 1 - lines[end - 1 :: -1].index(FRAME_BEGIN)
    except ValueError:
        raise FrameError("the job log has no veza-ray result frame") from None
    try:
        raw = zlib.decompress(base64.b64decode("".join(lines[begin + 1 : end]), validate=True))
        doc = json.loads(raw)
        files = {str(k): base64.b64decode(v) for k, v in doc["files"].items()}
        return JobResult(int(doc["code"]), files)
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise FrameError(f"the job's result frame is damaged: {exc}") from exc


class FrameFilter:
    """Cuts the result frame out of a stream of log chunks; passes every other line on.

    Chunks split lines anywhere, so only whole lines are judged; ``flush`` returns the
    last partial line when the stream ends.
    """

    def __init__(self) -> None:
        self._partial = ""
        self._inside = False

    def feed(self, chunk: str) -> str:
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()
        return "".join(line + "\n" for line in self._keep(lines))

    def flush(self) -> str:
        rest, self._partial = self._partial, ""
        return "".join(self._keep([rest])) if rest else ""

    def _keep(self, lines: Iterable[str]) -> Iterable[str]:
        for line in lines:
            if line == FRAME_BEGIN:
                self._inside = True
            elif line == FRAME_END and self._inside:
                self._inside = False
            elif not self._inside:
                yield line


def secret_env_args(value: str | None) -> list[str]:
    """``-e NAME=VALUE`` arguments from the JSON list in VEZA_RAY_JOB_ENV."""
    if not value:
        return []
    pairs = json.loads(value)
    if not isinstance(pairs, list) or not all(isinstance(p, str) for p in pairs):
        raise ValueError(f"{ENV_VAR} must be a JSON list of NAME=VALUE strings")
    return [arg for pair in pairs for arg in ("-e", pair)]


def output_args(collect: Sequence[str], folder: str) -> tuple[list[str], dict[str, str]]:
    """The run's output flags pointing into ``folder``, and the path of each flag's file."""
    args: list[str] = []
    paths: dict[str, str] = {}
    for flag in collect:
        if flag not in COLLECTABLE:
            raise ValueError(f"cannot collect {flag!r}; one of {', '.join(COLLECTABLE)}")
        path = os.path.join(folder, COLLECTABLE[flag])
        paths[flag] = path
        args += ["--out", f"json={path}"] if flag == "--out json=" else [flag, path]
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
        raise ValueError(
            "usage: python -m veza_ray.cluster.jobrun [--collect FLAG]... -- run SCRIPT ..."
        )
    return collect, rest[1:]


def _run_cli(argv: list[str]) -> int:
    """``veza-ray`` in this process, as its console entry point runs it; the exit code."""
    from veza_ray.cli import app
    from veza_ray.cluster.interrupts import Interrupts, StopRequested
    from veza_ray.core import exitcodes
    from veza_ray.outputs.stdstreams import guard_std_streams

    guard_std_streams()  # the job log's reader may go too: never the run's exit code
    interrupts = Interrupts().install()
    try:
        app(args=argv, obj=interrupts, prog_name="veza-ray")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except (KeyboardInterrupt, StopRequested):
        return exitcodes.EXTERNAL_ABORT
    return 0


def extract(log: str, folder: str) -> int:
    """``--extract DIR``: a job log (stdin) -> the files in DIR; the run's exit code.

    For a job someone else submitted (KubeRay's RayJob): ``kubectl logs job/NAME |
    python3 -m veza_ray.cluster.jobrun --extract out/`` gives CI the run's verdict and reports.
    """
    try:
        result = decode_frame(log)
    except FrameError as exc:
        print(f"veza-ray job: {exc}", file=sys.stderr)
        return 111
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
                "usage: python -m veza_ray.cluster.jobrun --extract DIR < job.log",
                file=sys.stderr,
            )
            return 104
        return extract(sys.stdin.read(), args[1])
    try:
        collect, run_argv = parse_argv(args)
        secret_args = secret_env_args(os.environ.pop(ENV_VAR, None))
    except ValueError as exc:
        print(f"veza-ray job: {exc}", file=sys.stderr)
        return 104
    folder = tempfile.mkdtemp(prefix="veza-ray-job-")
    try:
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
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
