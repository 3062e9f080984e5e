"""Emulator configuration and the loopback guard.

The config is plain frozen data so that the CLI, tests and ``--demo`` build it the same way
and an invalid value fails at construction, not halfway through a load test.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .degrade import FLAKY_ENV, SLOW_ENV, Factors, check_factors, parse_factors
from .latency import PROFILES


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves: latency profile, injected faults, RNG seed.

    ``seed`` drives latency draws and fault decisions; the catalogue is fixed so that track
    and product ids stay the same whatever the seed.
    """

    profile: str = "fast"
    error_rate: float = 0.0
    reset_rate: float = 0.0
    fail_health: bool = False
    seed: int = 1
    slow: Factors = ()  # (flow or route, latency factor): degrade.py
    flaky: Factors = ()  # (flow or route, extra share answered 503)

    def __post_init__(self) -> None:
        errors: list[str] = []
        if self.profile not in PROFILES:
            known = ", ".join(sorted(PROFILES))
            errors.append(f"profile {self.profile!r} is not one of: {known}")
        for name in ("error_rate", "reset_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{name} must be a number, got {value!r}")
            elif math.isnan(value) or not 0.0 <= value <= 1.0:
                errors.append(f"{name} must be within [0, 1], got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            errors.append(f"seed must be an int, got {self.seed!r}")
        errors += check_factors(self.slow, self.flaky)
        if errors:
            raise ValueError("invalid EmulatorConfig: " + "; ".join(errors))

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kwargs: Any) -> EmulatorConfig:
        """The config with ``VEZA_EMULATOR_SLOW`` / ``VEZA_EMULATOR_FLAKY`` applied."""
        return cls(
            slow=parse_factors(env.get(SLOW_ENV, ""), SLOW_ENV),
            flaky=parse_factors(env.get(FLAKY_ENV, ""), FLAKY_ENV),
            **kwargs,
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; other names are not resolved."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_public: bool) -> None:
    """Refuse to bind a non-loopback address unless the caller opted in.

    The emulator exists to absorb load tests; bound to a public interface it would invite
    someone else's traffic (or ours onto someone else's network).
    """
    if not allow_public and not is_loopback(host):
        raise ValueError(
            f"refusing to bind the emulator to non-loopback host {host!r}; "
            "use 127.0.0.1/localhost/::1 or pass allow_public=True"
        )


def format_base_url(host: str, port: int) -> str:
    """``http://host:port`` with IPv6 literals bracketed."""
    bare = host.strip("[]")
    shown = f"[{bare}]" if ":" in bare else bare
    return f"http://{shown}:{port}"
