"""The driver's everyday outputs: the live view, the NDJSON stream, the abortOnFail check."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from typing import IO, Any

import orjson

from veza_ray.core.guards import SECRETS
from veza_ray.core.thresholds import Verdict, should_abort
from veza_ray.outputs.base import Interval, OutputContext, OutputEnd, RunStart
from veza_ray.outputs.live import LiveView, progress_rows


class LiveOutput:
    """The rich table on a terminal, plain lines in logs (``live.LiveView``)."""

    name = "live"

    def __init__(self, enabled: bool, plain_every: float, write: Callable[[str], None]) -> None:
        self.enabled, self.plain_every, self.write = enabled, plain_every, write
        self.view: LiveView | None = None
        self.names: list[str] = []

    def start(self, run: RunStart) -> None:
        self.names = list(run.scenarios)
        self.view = LiveView(
            self.enabled, run.planned_s, plain_every=self.plain_every, write=self.write
        )

    def interval(self, iv: Interval) -> None:
        if self.view is None:
            return
        rows = progress_rows(self.names, dict(iv.stats), iv.run.last_point(), iv.dt)
        self.view.update(iv.elapsed, rows, iv.verdicts, iv.where)

    def end(self) -> OutputEnd:
        if self.view is not None:
            self.view.close()
        return OutputEnd(self.name)


class NdjsonOutput:
    """``--out json=PATH``: one JSON line per interval with the merged per-scenario point.

    The path was checked writable before the run. A write that fails later (disk full) or
    a file removed under the run (its directory deleted) is counted, in intervals and
    bytes, and reported as lost at the end; the file keeps only whole lines.
    """

    name = "json"

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream: IO[bytes] | None = None  # unbuffered: a failed write is this line's
        self.identity: tuple[int, int] | None = None  # (dev, inode) of a regular file
        self.start_size = 0
        self.error = ""
        self.written = [0, 0]  # intervals, bytes
        self.lost = [0, 0]

    @classmethod
    def for_run(cls, target: str, ctx: OutputContext) -> NdjsonOutput:
        return cls(target)

    def start(self, run: RunStart) -> None:
        try:
            self.stream = open(self.path, "ab", buffering=0)  # noqa: SIM115 - end() closes
            st = os.fstat(self.stream.fileno())
            if stat.S_ISREG(st.st_mode):
                self.identity = (st.st_dev, st.st_ino)
                self.start_size = st.st_size
        except OSError as exc:
            self.error = exc.strerror or str(exc)

    def interval(self, iv: Interval) -> None:
        line: dict[str, Any] = {"time": iv.now, **iv.point}
        data = orjson.dumps(SECRETS.redact_obj(line)) + b"\n"
        if self.stream is None:
            self._count(self.lost, data)
            return
        try:
            done = 0
            while done < len(data):
                done += self.stream.write(data[done:]) or 0
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self._count(self.lost, data)
            self._close(keep=self.written[1])
            return
        self._count(self.written, data)

    def end(self) -> OutputEnd:
        self._close()
        if self.identity is not None and not self.error and self._replaced():
            self.error = "the file was removed or replaced during the run"
            self.lost = [self.lost[0] + self.written[0], self.lost[1] + self.written[1]]
            self.written = [0, 0]
        summary = {"intervals_written": self.written[0], "bytes_written": self.written[1]}
        if not self.error:
            return OutputEnd(self.name, summary)
        summary.update(intervals_lost=self.lost[0], bytes_lost=self.lost[1])
        total = self.written[0] + self.lost[0]
        line = (
            f"--out json={self.path}: {self.error}; {self.written[0]} of {total} intervals "
            f"written ({self.written[1]} bytes), {self.lost[0]} lost ({self.lost[1]} bytes)"
        )
        return OutputEnd(self.name, summary, lost=[line])

    @staticmethod
    def _count(into: list[int], data: bytes) -> None:
        into[0] += 1
        into[1] += len(data)

    def _replaced(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self.identity

    def _close(self, keep: int | None = None) -> None:
        """Close the stream; after a failed write, cut a regular file back to ``keep``
        bytes of this run so it ends on a whole line."""
        if self.stream is None:
            return
        stream, self.stream = self.stream, None
        if keep is not None and self.identity is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(stream.fileno(), self.start_size + keep)
        with contextlib.suppress(OSError):
            stream.close()


class AbortCheck:
    """abortOnFail: every ``every_s`` seconds, stop the run when a threshold marked so is
    crossed (and its delayAbortEval has passed). ``stop`` is the driver's; ``aborted``
    tells the outcome why the run ended early."""

    name = "abort"

    def __init__(
        self,
        every_s: float,
        stop: Callable[[list[Verdict]], None],
        blocked: Callable[[], bool] = lambda: False,
    ) -> None:
        self.every_s, self.stop, self.blocked = every_s, stop, blocked
        self.last = 0.0
        self.aborted = False

    def start(self, run: RunStart) -> None:
        self.last = 0.0

    def interval(self, iv: Interval) -> None:
        if self.aborted or self.blocked() or not iv.verdicts:
            return
        if iv.elapsed - self.last < self.every_s:
            return
        self.last = iv.elapsed
        crossing = should_abort(iv.verdicts, iv.elapsed)
        if crossing:
            self.aborted = True
            self.stop(crossing)

    def end(self) -> OutputEnd:
        return OutputEnd(self.name)
