"""Ctrl-C and SIGTERM in every phase of a run, mapped to k6's exit 105.

While the run starts (loading the script, starting Ray, placing actors) a signal raises
``StopRequested``, which unwinds start-up through the ``finally`` blocks that stop what
was started. While VUs run, it only sets a flag: the driver's loop stops the VUs
gracefully, still pulls what they measured and writes the summary. A second signal in
that phase is remembered too, never a traceback.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

from veza_ray.core.stop import StopRequested as StopRequested  # re-exported


class Interrupts:
    """The process's SIGINT/SIGTERM handling for one run; created once by the CLI."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.raising = True
        self._previous: dict[int, Any] = {}

    def install(self) -> Interrupts:
        """Take SIGINT and SIGTERM; again after a library (ray.init) took them over."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(sig, self._handler)
            self._previous.setdefault(sig, previous)
        return self

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()

    @property
    def first(self) -> str:
        return self.received[0] if self.received else ""

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)
        if self.raising:
            raise StopRequested(self.received[-1])

    @contextlib.contextmanager
    def flagging(self) -> Iterator[None]:
        """While VUs run: a signal is a flag the driver's loop reads, not an exception."""
        self.raising = False
        try:
            yield
        finally:
            self.raising = True


def kill_children(grace_s: float = 3.0) -> int:
    """Stop every process this one started (a Ray cluster half-started when a signal came).

    ``ray.shutdown()`` stops a cluster that finished starting; one interrupted inside
    ``ray.init`` leaves its GCS, raylet and agents behind, so they are found by parentage.
    Returns how many processes were signalled.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ray[default]
        return 0
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return len(procs)
