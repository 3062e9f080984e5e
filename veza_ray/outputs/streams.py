"""The driver's everyday outputs: the live view, the NDJSON stream, the abortOnFail check."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import IO, Any

import orjson

from veza_ray.core.guards import SECRETS
from veza_ray.core.thresholds import Verdict, should_abort
from veza_ray.outputs.base import Interval, OutputEnd, RunStart
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

    The path was checked writable before the run; a write that fails later (disk full) is
    reported as a failure of this output, never the end of the run.
    """

    name = "json"

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream: IO[bytes] | None = None
        self.failures: list[str] = []

    def start(self, run: RunStart) -> None:
        try:
            self.stream = open(self.path, "ab")  # noqa: SIM115 - closed in end()
        except OSError as exc:
            self.failures.append(f"--out json={self.path}: {exc.strerror}")

    def interval(self, iv: Interval) -> None:
        if self.stream is None:
            return
        line: dict[str, Any] = {"time": iv.now, **iv.point}
        try:
            self.stream.write(orjson.dumps(SECRETS.redact_obj(line)) + b"\n")
            self.stream.flush()
        except OSError as exc:
            self.failures.append(f"--out json={self.path}: {exc.strerror}")
            self._close()

    def end(self) -> OutputEnd:
        self._close()
        return OutputEnd(self.name, failures=self.failures)

    def _close(self) -> None:
        if self.stream is not None:
            with contextlib.suppress(OSError):
                self.stream.close()
            self.stream = None


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
