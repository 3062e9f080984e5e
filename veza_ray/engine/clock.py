"""Clocks the runner reads; injected so schedules can be tested without real time."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep_until(self, t: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and asyncio sleeps."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)


def epoch_to_monotonic(epoch: float) -> float:
    """Turn the driver's agreed wall-clock start into this process's monotonic time."""
    return time.monotonic() + (epoch - time.time())
