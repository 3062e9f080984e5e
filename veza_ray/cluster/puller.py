"""Non-blocking pulls of a set of load actors: what the driver and each node's aggregator
both do, so neither has to build the other's machinery to pull.

Each actor has at most one pull in flight; a round waits a bounded time for whatever is
ready; an actor silent past ``silent_s`` (its node cut off) is declared lost, and Ray
reports a dead process or node as a RayActorError on the pull.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.wire import ActorDelta, decode_delta


class ActorPuller:
    """Handles of load actors, their pulls in flight and when each last answered."""

    def __init__(self, ray: Any, silent_s: float) -> None:
        self.ray = ray
        self.silent_s = silent_s
        self.handles: dict[int, Any] = {}
        self.live: set[int] = set()
        self.pending: dict[int, tuple[Any, float]] = {}
        self.last_heard: dict[int, float] = {}

    def add(self, actor: int, handle: Any) -> None:
        self.handles[actor] = handle
        self.live.add(actor)

    def send(self, ids: Iterable[int], now: float) -> None:
        """Ask each of ``ids`` for its delta, unless a pull of it is still in flight."""
        for i in ids:
            if i not in self.pending:
                self.pending[i] = (self.handles[i].pull.remote(BINARY_FORMAT), now)

    def pending_refs(self) -> list[Any]:
        return [ref for ref, _ in self.pending.values()]

    def collect(
        self, ready: set[Any], now: float, deltas: dict[int, ActorDelta], lost: dict[int, str]
    ) -> None:
        """Read the pulls that are ``ready`` into ``deltas``; a dead or silent actor into
        ``lost`` with why."""
        from ray.exceptions import RayActorError

        for i, (ref, _sent) in list(self.pending.items()):
            if ref in ready:
                del self.pending[i]
                try:
                    deltas[i] = decode_delta(self.ray.get(ref))
                    self.last_heard[i] = now
                except RayActorError as exc:
                    lost[i] = first_line(exc)
            elif now - self.last_heard.get(i, now) > self.silent_s:
                lost[i] = f"no answer for {self.silent_s:.0f} s (node dead or cut off)"

    def settle(self, deltas: dict[int, ActorDelta], lost: dict[int, str]) -> None:
        """Drop the lost actors; an actor whose delta says done is no longer live."""
        for i in lost:
            self.drop(i)
        for i, d in deltas.items():
            if d["done"]:
                self.live.discard(i)

    def wait(self, refs: list[Any], wait_s: float) -> set[Any]:
        """The refs that are ready within ``wait_s`` (never blocks longer)."""
        if not refs:
            return set()
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=wait_s)
        return set(ready)

    def pull(self, wait_s: float) -> tuple[dict[int, ActorDelta], dict[int, str]]:
        """One round over every live actor: the deltas that answered, the actors lost."""
        self.send(self.live, time.time())
        ready = self.wait(self.pending_refs(), wait_s)
        deltas: dict[int, ActorDelta] = {}
        lost: dict[int, str] = {}
        self.collect(ready, time.time(), deltas, lost)
        self.settle(deltas, lost)
        return deltas, lost

    def drop(self, actor: int) -> None:
        self.live.discard(actor)
        self.pending.pop(actor, None)
        with contextlib.suppress(Exception):
            self.ray.kill(self.handles[actor], no_restart=True)


def first_line(exc: BaseException) -> str:
    """An exception's type and first line, for a one-line reason."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()
