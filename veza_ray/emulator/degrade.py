"""Make one route (or one flow's routes) slower or flakier on purpose.

For tests and demos of ``compare`` and ``run --baseline``: a regression produced by
design, e.g. browse 30 % slower (``slow=(("browse", 1.3),)``: every latency draw of
search, track_list and track_detail is multiplied by 1.3) or checkout failing 2 % more
(``flaky=(("checkout", 0.02),)``: that share of its requests answered 503 on top of
``error_rate``). A name is a route name (``/__stats``) or a flow, below. Slowness needs a
latency profile other than ``none`` (it multiplies the profile's draw).

From the environment (``veza-ray target`` and ``run --demo``):
``VEZA_EMULATOR_SLOW=browse=1.3,checkout=2`` and ``VEZA_EMULATOR_FLAKY=browse=0.05``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType

FLOWS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "upload": ("upload_initiate", "upload_chunk"),
        "streaming": ("hls_master", "hls_playlist", "hls_segment"),
        "browse": ("search", "track_list", "track_detail"),
        "checkout": ("product_list", "order_create"),
    }
)
ROUTES = frozenset(r for routes in FLOWS.values() for r in routes)
SLOW_ENV = "VEZA_EMULATOR_SLOW"
FLAKY_ENV = "VEZA_EMULATOR_FLAKY"
MAX_SLOW = 100.0

Factors = tuple[tuple[str, float], ...]


def parse_factors(text: str, what: str) -> Factors:
    """``name=number,...`` -> pairs; ValueError names the bad part."""
    out: list[tuple[str, float]] = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not sep or value != value:
            raise ValueError(f"{what} {item!r}: write NAME=NUMBER")
        out.append((name.strip(), value))
    return tuple(out)


def check_factors(slow: Factors, flaky: Factors) -> list[str]:
    """What is wrong with the pairs (unknown names, out-of-range values)."""
    errors = []
    known = ", ".join(sorted(FLOWS)) + " or a route name"
    for name, _value in (*slow, *flaky):
        if name not in FLOWS and name not in ROUTES:
            errors.append(f"{name!r} is not a flow ({known})")
    errors += [
        f"slow {n}={v!r} must be within (0, {MAX_SLOW:g}]" for n, v in slow if not 0 < v <= MAX_SLOW
    ]
    errors += [f"flaky {n}={v!r} must be within [0, 1]" for n, v in flaky if not 0 <= v <= 1]
    return errors


def _by_route(pairs: Factors) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in pairs:
        for route in FLOWS.get(name, (name,)):
            out[route] = value
    return out


class Degrader:
    """Per-route latency factor and extra 503 share, with its own seeded RNG."""

    def __init__(self, slow: Factors, flaky: Factors, seed: int) -> None:
        self.slow = _by_route(slow)
        self.flaky = _by_route(flaky)
        self._rng = random.Random(f"degrade-{seed}")

    def factor(self, route: str) -> float:
        return self.slow.get(route, 1.0)

    def fails(self, route: str) -> bool:
        share = self.flaky.get(route, 0.0)
        return share > 0.0 and self._rng.random() < share
