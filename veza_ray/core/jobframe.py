"""The framed block a Ray job ends its log with: the run's exit code and its files.

Pure. Ray Jobs keep only a status, the driver's exit code and the job's log, so the job
wrapper (``veza_ray.jobrun``) prints the run's exit code and the files it collected as
one block of base64 lines between two markers at the end of the log; the submitter
(``cluster/jobs.py``) and ``jobrun --extract`` read it back.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from veza_ray.core.output_kinds import OUTPUTS

ENV_VAR = "VEZA_RAY_JOB_ENV"
FRAME_BEGIN = "=====veza-ray-job-result-v1 begin====="
FRAME_END = "=====veza-ray-job-result-v1 end====="
LINE_WIDTH = 4096  # base64 characters per frame line, so no log line is megabytes long

# The output flags a job can collect, and the file name each gets (output_kinds' table).
COLLECTABLE = {o.flag: o.job_file for o in OUTPUTS if o.job_file is not None}


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
