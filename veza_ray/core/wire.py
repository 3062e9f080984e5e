"""What crosses Ray between an actor and the driver, typed in one place and checked when read.

Pure. The actor's engine (runner.py) builds these; the driver side (fleet.py, merge.py)
reads them without importing the engine and its HTTP stack. ``decode_delta`` refuses a
pull that lacks a field or has one of the wrong kind, naming it, so a mismatched actor
version fails loudly instead of deep in a merge.
"""

from __future__ import annotations

import pickle
from typing import Any, NotRequired, TypedDict, cast

import orjson

from veza_ray.core.metrics import SeriesWire

# Distinct iteration-error messages kept verbatim per actor (and cluster-wide by the
# driver); the rest are counted under OTHER_ERRORS.
MAX_ERROR_MESSAGES = 100
OTHER_ERRORS = "(other errors: distinct messages beyond the first 100, counted here)"


class ScenarioStats(TypedDict):
    """One scenario's VU and iteration counters in one actor, as of the pull."""

    active: int
    allocated: int
    iterations: int
    dropped: int
    undelivered: int  # planned iterations never started because the run stopped early


class ActorEnd(TypedDict):
    """When and why this actor's VUs stopped: the driver counts undelivered load from it."""

    reason: str  # "plan" (ran to its end), "stopped" (asked), "lease", "crashed: ..."
    at: float  # wall-clock epoch of the stop (the stop request, not the last VU's exit)


class ActorDelta(TypedDict):
    """What an actor reports at each pull: metric deltas plus its own state."""

    series: list[SeriesWire]
    scenarios: dict[str, ScenarioStats]
    errors: dict[str, int]
    lag_ms: list[float]
    cpu: float
    wall: float
    done: bool
    started: bool
    end: ActorEnd | None
    # Secret values the actor learned since its last pull (headers, cookies, URLs,
    # env(..., secret=True) in a flow): the driver's outputs must hide them too.
    secrets: NotRequired[list[str]]
    # Its data files' use so far (core/datasplit.py DataUse, by file name), cumulative.
    data: NotRequired[dict[str, Any]]


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "series": list,
    "scenarios": dict,
    "errors": dict,
    "lag_ms": list,
    "cpu": (int, float),
    "wall": (int, float),
    "done": bool,
    "started": bool,
    "end": (dict, type(None)),
}


def encode_delta(delta: ActorDelta) -> bytes:
    """An actor's pull as bytes. Pickle, because fastdigest bytes cannot cross JSON and
    pickle reads a 50-series delta in ~60 us where orjson took ~1 ms over dict centroids.
    Ray unpickles whatever an actor returns anyway, so this trusts nothing new."""
    return pickle.dumps(delta, protocol=5)


def decode_delta(data: bytes) -> ActorDelta:
    """Read ``encode_delta``'s bytes, checked. JSON (what actors before digest wire version
    2 sent) is read too, so that their digests are refused by version with a clear message."""
    obj: Any = orjson.loads(data) if data[:1] == b"{" else pickle.loads(data)
    return check_delta(obj)


def check_delta(obj: Any) -> ActorDelta:
    """``obj`` as an ActorDelta, or ValueError naming the first field that is not one."""
    if not isinstance(obj, dict):
        raise ValueError(f"an actor's pull is a {type(obj).__name__}, not a dict")
    for name, kind in _FIELDS.items():
        if name not in obj:
            raise ValueError(f"an actor's pull has no {name!r}: it runs another veza-ray")
        value = obj[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ValueError(
                f"an actor's pull has {name!r} as {type(obj[name]).__name__}: "
                "it runs another veza-ray"
            )
    if not isinstance(obj.get("data", {}), dict):
        raise ValueError("an actor's pull has 'data' that is not a dict: it runs another veza-ray")
    if not isinstance(obj.get("secrets", []), list):
        raise ValueError(
            "an actor's pull has 'secrets' that is not a list: it runs another veza-ray"
        )
    return cast(ActorDelta, obj)
