"""Ctrl-C, SIGTERM and SIGHUP in every phase of a run, mapped to k6's exit 105.

SIGHUP (a closed terminal, a dropped SSH session) is a stop like the other two: its
default action would kill the driver outright, with no summary, the actors' load going
on until their lease ran out and Ray's agents left behind.

While the script loads, a first signal is remembered and acted on once the run's
configuration is checked (so the summary can be written where it was asked for); a
second one stops at once. While the run starts (pre-flight, starting Ray, placing
actors) a signal raises ``StopRequested``, which unwinds start-up through the
``finally`` blocks that stop what was started. While VUs run, it only sets a flag: the
driver's loop stops the VUs gracefully, still pulls what they measured and writes the
summary. A second signal in that phase is remembered too, never a traceback.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

from veza_ray.core.stop import StopRequested as StopRequested  # re-exported

# The signals that stop a run. SIGHUP is what a terminal or SSH session sends when it goes.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupts:
    """The process's SIGINT/SIGTERM/SIGHUP handling for one run; created once by the CLI."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.raising = True
        self.deferred = False  # while the script loads: the first signal waits for the end
        self.decided_at = -1  # len(received) when the outcome was decided; -1 before
        self._previous: dict[int, Any] = {}

    def install(self) -> Interrupts:
        """Take the stop signals; again after a library (ray.init) took them over."""
        for sig in STOP_SIGNALS:
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
        if self.raising and not (self.deferred and len(self.received) == 1):
            raise StopRequested(self.received[-1])

    @property
    def late(self) -> list[str]:
        """Signals that came after the outcome was decided (they do not change it)."""
        return self.received[self.decided_at :] if self.decided_at >= 0 else []

    def decided(self) -> None:
        """The outcome is decided: a signal from now on does not change the exit code."""
        self.decided_at = len(self.received)

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """While the script loads: a first signal is remembered, a second one raises."""
        self.deferred = True
        try:
            yield
        finally:
            self.deferred = False

    def flagging(self) -> None:
        """From the VUs' start to the exit: a signal is a flag the driver's loop reads, never
        an exception (one in the summary's writing or the cluster's stop would lose them)."""
        self.raising = False


@contextlib.contextmanager
def hangup_blocked() -> Iterator[None]:
    """Start processes (Ray's GCS, raylet, agents) with SIGHUP blocked, as Ray blocks SIGINT.

    A closed terminal sends SIGHUP to the whole process group, Ray's processes included;
    blocked there, they stay up while the driver, which handles SIGHUP, stops the VUs,
    writes the summary and then stops them itself. The mask is inherited by every process
    started meanwhile; a SIGHUP sent to the driver meanwhile waits and arrives at the end.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def descendants() -> list[Any]:
    """Every process this one started, and theirs (taken before the cluster is stopped,
    because Ray's workers outlive the raylet that started them and lose their parentage)."""
    try:
        import psutil

        return list(psutil.Process().children(recursive=True))
    except Exception:  # psutil comes with ray[default]; a vanished process is no news
        return []


def reap(procs: list[Any], grace_s: float = 3.0) -> int:
    """Terminate, wait for, then kill the processes of ``procs`` still alive; how many were
    alive. The driver exits only once they are gone, so nothing it started outlives it."""
    import psutil

    alive = [p for p in procs if _running(p)]
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, left = psutil.wait_procs(alive, timeout=grace_s)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(left, timeout=grace_s)
    return len(alive)


def _running(proc: Any) -> bool:
    import psutil

    try:
        return bool(proc.is_running()) and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


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
