"""Loop-lag trace: how late an event loop is, and what it was running while it was late.

The actor's lag probe (``Runner._monitor``) says *that* a loop was late; this says *why*.
A heartbeat timer on the loop stamps when it ran; a watchdog thread checks the stamp and,
while the heartbeat is overdue by more than ``threshold_ms``, samples the loop thread's
stack (``sys._current_frames``). Each stall keeps its length and its stacks, innermost
frame last, so the code that held the loop is named with its file and line.

Two figures per heartbeat: ``lags_ms``, how late it came (wall clock: what the actor's
probe and the saturation rule see), and ``busy_ms``, the CPU the loop thread spent since
the one before (``time.thread_time``): the share of the lateness this process's own work
explains, which time taken by other processes on a shared machine does not inflate.
Used by ``python -m bench.looplag`` and the loop-lag tests; one timer per ``period_s``.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import threading
import traceback
from time import monotonic, thread_time
from typing import Any

Stack = tuple[str, ...]  # "file:line function", outermost first


class Stall:
    """One stretch while the heartbeat was overdue: how long, and where the loop was."""

    __slots__ = ("busy_ms", "lag_ms", "stacks")

    def __init__(self) -> None:
        self.lag_ms = 0.0
        self.busy_ms = 0.0
        self.stacks: collections.Counter[Stack] = collections.Counter()


class LoopTrace:
    """``trace.start()`` inside the loop, ``trace.stop()`` at the end; ``lags_ms`` holds
    every heartbeat's lateness, ``stalls`` the late ones with their stacks."""

    def __init__(self, threshold_ms: float = 20.0, period_s: float = 0.005, depth: int = 12):
        self.threshold_ms = threshold_ms
        self.period_s = period_s
        self.depth = depth
        self.lags_ms: list[float] = []
        self.busy_ms: list[float] = []
        self.stalls: list[Stall] = []
        self._due = 0.0
        self._cpu = 0.0
        self._current: Stall | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._due = monotonic() + self.period_s
        self._cpu = thread_time()
        self._handle = loop.call_later(self.period_s, self._beat)
        self._thread = threading.Thread(target=self._watch, name="looptrace", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def max_ms(self) -> float:
        return max(self.lags_ms, default=0.0)

    @property
    def busy_max_ms(self) -> float:
        return max(self.busy_ms, default=0.0)

    def p99_ms(self) -> float:
        """Nearest-rank p99 of the heartbeats' lateness."""
        if not self.lags_ms:
            return 0.0
        ordered = sorted(self.lags_ms)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def report(self, top: int = 5) -> dict[str, Any]:
        """Figures and the longest stalls, each with its most sampled stacks."""
        worst = sorted(self.stalls, key=lambda s: s.lag_ms, reverse=True)[:top]
        return {
            "beats": len(self.lags_ms),
            "lag_max_ms": round(self.max_ms, 1),
            "lag_p99_ms": round(self.p99_ms(), 1),
            "busy_max_ms": round(self.busy_max_ms, 1),
            "stalls": len(self.stalls),
            "worst": [
                {
                    "lag_ms": round(s.lag_ms, 1),
                    "busy_ms": round(s.busy_ms, 1),
                    "stacks": [
                        {"samples": n, "frames": list(stack)} for n, stack in _top(s.stacks)
                    ],
                }
                for s in worst
            ],
        }

    # ---- the loop side ---------------------------------------------------------------

    def _beat(self) -> None:
        now, cpu = monotonic(), thread_time()
        lag = max(0.0, (now - self._due) * 1000.0)
        busy = (cpu - self._cpu) * 1000.0
        self._cpu = cpu
        self.lags_ms.append(lag)
        self.busy_ms.append(busy)
        with self._lock:
            stall, self._current = self._current, None
            self._due = now + self.period_s
        if stall is not None or lag > self.threshold_ms:
            stall = stall or Stall()
            stall.lag_ms, stall.busy_ms = lag, busy
            self.stalls.append(stall)
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self.period_s, self._beat)

    # ---- the watchdog thread ---------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.period_s / 2):
            if (monotonic() - self._due) * 1000.0 <= self.threshold_ms:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            stack = tuple(
                f"{f.filename}:{f.lineno} {f.name}"
                for f in traceback.extract_stack(frame)[-self.depth :]
            )
            with self._lock:
                if self._current is None:
                    self._current = Stall()
                self._current.stacks[stack] += 1


def _top(stacks: collections.Counter[Stack], n: int = 3) -> list[tuple[int, Stack]]:
    return [(count, stack) for stack, count in stacks.most_common(n)]
