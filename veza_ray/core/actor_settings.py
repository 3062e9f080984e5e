"""What the driver tells each load actor besides the scenario's env: its own settings.

The hosts a VU may reach and the env names whose values are secrets used to travel in the
scenario's env() dict (VEZA_RAY_ALLOW_HOSTS, VEZA_RAY_SECRETS), where a script could read
or overwrite them. They are the run's settings, so they go in the actor's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NotRequired, TypedDict


class ActorSettings(TypedDict):
    allowed_hosts: list[str]  # lower-cased, beyond loopback (--allow-host, VEZA_RAY_ALLOW_HOSTS)
    secret_names: list[str]  # env names whose values are secrets (by name, --secret, env list)
    run_tags: NotRequired[dict[str, str]]  # --tag NAME=VALUE: replaces the options' tags


def actor_settings(allowed_hosts: Iterable[str], secret_names: Iterable[str]) -> ActorSettings:
    return {"allowed_hosts": sorted(allowed_hosts), "secret_names": sorted(secret_names)}


NO_SETTINGS: ActorSettings = {"allowed_hosts": [], "secret_names": []}
