"""Injected faults: answer 503, or drop the connection without answering."""

from __future__ import annotations

import enum
import random


class Fault(enum.Enum):
    """What the emulator does to one request instead of serving it normally."""

    NONE = "none"
    ERROR = "error"  # answer 503
    RESET = "reset"  # close the connection abruptly, no response


class FaultInjector:
    """Decides each request's fault from a seeded RNG.

    The reset draw comes first; ``error_rate`` is the fraction of the remaining requests
    answered 503. So ``error_rate=1.0`` means every request that is not reset gets a 503.
    """

    def __init__(self, error_rate: float, reset_rate: float, seed: int) -> None:
        self._error_rate = error_rate
        self._reset_rate = reset_rate
        self._rng = random.Random(f"faults-{seed}")

    def draw(self) -> Fault:
        if self._reset_rate > 0.0 and self._rng.random() < self._reset_rate:
            return Fault.RESET
        if self._error_rate > 0.0 and self._rng.random() < self._error_rate:
            return Fault.ERROR
        return Fault.NONE
