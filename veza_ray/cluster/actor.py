"""The Ray actor: a thin shell that loads the scenario and runs a Runner on its loop.

Everything that can be tested without Ray lives in runner.py. This file adds only what
Ray brings: where the actor runs, and a lease: when the driver stops pulling (it died or
was cut off), the actor stops its VUs by itself, so no load is ever orphaned.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from typing import Any, TypedDict

import ray

from veza_ray.core.actor_settings import NO_SETTINGS, ActorSettings
from veza_ray.core.digest import BINARY_FORMAT
from veza_ray.core.guards import SECRETS, RedactingWriter
from veza_ray.core.options import parse_options
from veza_ray.core.plan import Segment, SegmentWire
from veza_ray.core.wire import encode_delta
from veza_ray.engine.clock import epoch_to_monotonic
from veza_ray.engine.runner import build_runner
from veza_ray.engine.scenario import load_script


class ActorInfo(TypedDict):
    actor_id: int
    node_id: str
    address: str
    pid: int
    hostname: str


class ActorLoadError(Exception):
    """The scenario failed to load in an actor; the message is already redacted."""


class LoadActor:
    """One actor = one process = one event loop running many VUs."""

    def __init__(
        self,
        actor_id: int,
        script_path: str,
        source: str,
        env: dict[str, str],
        segments: list[SegmentWire],
        lease_s: float = 5.0,
        settings: ActorSettings = NO_SETTINGS,
        setup_data: str | None = None,  # setup()'s return value as JSON, run once by the driver
    ) -> None:
        self.actor_id = actor_id
        # Secrets first, and the writers always: headers, cookies and URLs teach the book
        # more as VUs run, and Ray copies this process's output into its log files.
        SECRETS.add_env(env, settings["secret_names"])
        if not isinstance(sys.stdout, RedactingWriter):
            sys.stdout = RedactingWriter(sys.stdout)
            sys.stderr = RedactingWriter(sys.stderr)
        try:
            script = load_script(script_path, env, source=source)
            options = parse_options(script.raw_options).with_run_tags(settings.get("run_tags", {}))
            segs = [Segment.from_wire(w) for w in segments]
            self.runner = build_runner(
                script,
                options,
                segs,
                env,
                log=self._log,
                allowed_hosts=settings["allowed_hosts"],
                setup_data=setup_data,
            )
        except Exception as exc:
            # Ray logs and ships a creation error with its traceback and message: both
            # must be clean before they leave this process, so no chained original.
            raise ActorLoadError(SECRETS.redact(f"{type(exc).__name__}: {exc}")) from None
        self.lease_s = lease_s
        self.last_contact = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.failure = ""

    def _log(self, message: str) -> None:
        print(SECRETS.redact(f"[actor {self.actor_id}] {message}"), flush=True)

    async def info(self) -> ActorInfo:
        ctx = ray.get_runtime_context()
        return {
            "actor_id": self.actor_id,
            "node_id": ctx.get_node_id(),
            "address": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
        }

    async def start(self, start_epoch: float) -> None:
        """Begin at the driver's chosen wall-clock instant; returns at once."""
        self.last_contact = time.monotonic()
        self._task = asyncio.create_task(self.runner.run(epoch_to_monotonic(start_epoch)))
        self._task.add_done_callback(self._finished)
        self._watchdog = asyncio.create_task(self._watch())

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.failure = SECRETS.redact(f"{type(exc).__name__}: {exc}")
            self._log(f"runner failed: {self.failure}")
            self.runner.end = {"reason": "crashed: " + self.failure, "at": time.time()}
            self.runner.done = True

    async def pull(self, digest_format: str = "") -> bytes:
        """The delta since the last pull; every pull also renews the driver's lease.

        ``digest_format`` is the driver's ``BINARY_FORMAT``: digests travel as fastdigest
        bytes only when it is ours too, else in the portable dict form.
        """
        self.last_contact = time.monotonic()
        self.runner.store.binary_digests = bool(digest_format) and digest_format == BINARY_FORMAT
        return encode_delta(self.runner.snapshot())

    async def stop(self, grace: float) -> None:
        if not self.runner.done:
            self.runner.stop(grace, reason="stopped")

    async def _watch(self) -> None:
        while not self.runner.done:
            await asyncio.sleep(0.5)
            if time.monotonic() - self.last_contact > self.lease_s:
                self._log(f"no word from the driver for {self.lease_s:.0f}s: stopping all VUs")
                self.runner.stop(0.0, reason="lease")
                return


def remote_class(**ray_options: Any) -> Any:
    """The Ray remote class, made on demand so importing this module stays cheap."""
    return ray.remote(**ray_options)(LoadActor) if ray_options else ray.remote(LoadActor)
