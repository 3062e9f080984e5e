"""Run records and the acceptance chain, as plain data (the SQLite I/O is in
veza_ray/history/store.py).

A record is what one run leaves for the nights after it: who ran (script name, a hash of
its resolved options, test id, tags), when, the verdict (code, reasons, notes, complete
or not, saturated or not), every threshold's observed value and the comparison data of
core/compare.py (digests in wire form, counts, per-interval p95s) plus the bounded series.

The acceptance chain (docs/PERFORMANCE_BASELINE.md, "three consecutive green nights"):
the last N calendar days (UTC) that have runs of this script and option hash must be
consecutive days, each one green. A night is green when every run of it is green:
exit 0, planned load delivered, no saturation (a second run the same day cannot hide a
red first one). A day with only runs of other options, or no run at all, breaks it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from veza_ray.core.compare import DEFAULT_FLOOR, run_data

DEFAULT_NIGHTS = 3
MAX_TAGS = 32


@dataclass
class HistoryOptions:
    """``run``'s history and baseline flags, in one place (``RunConfig.history``)."""

    path: str | None = None  # --history / VEZA_RAY_HISTORY
    tags: dict[str, str] = field(default_factory=dict)  # --tag NAME=VALUE
    baseline: str | None = None  # --baseline last-green | RUN_ID | FILE
    warn_only: bool = False  # --baseline-warn-only
    floor: float = DEFAULT_FLOOR
    recent_runs: int = 30  # runs shown in the HTML report's history section

    @property
    def active(self) -> bool:
        return bool(self.path or self.baseline)

    def problem(self) -> str:
        """What is wrong with the flags, before any load ('' when nothing)."""
        if self.baseline == "last-green" and not self.path:
            return "--baseline last-green needs --history PATH (or VEZA_RAY_HISTORY)"
        if self.baseline and self.baseline.isdigit() and not self.path:
            return f"--baseline {self.baseline}: a run id needs --history PATH"
        if not 0 <= self.floor < 10:
            return f"--baseline-floor {self.floor!r}: give a share such as 0.1 (10 %)"
        return ""


def options_hash(options: Mapping[str, Any]) -> str:
    """12 hex digits of SHA-256 over the resolved options, keys sorted: a change of VUs,
    duration, thresholds or executors changes it; the order of keys does not."""
    blob = orjson.dumps(options, option=orjson.OPT_SORT_KEYS, default=repr)
    return hashlib.sha256(blob).hexdigest()[:12]


def parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    """``--tag NAME=VALUE`` pairs; ValueError names the bad one."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--tag {pair!r}: write it as NAME=VALUE")
        out[name.strip()] = value
    if len(out) > MAX_TAGS:
        raise ValueError(f"--tag: at most {MAX_TAGS} tags")
    return out


def identity(
    script_path: str,
    options: Mapping[str, Any],
    option_tags: Mapping[str, str],
    cli_tags: Mapping[str, str],
) -> dict[str, Any]:
    """The run's identity, as the summary carries it under ``veza_ray.identity``."""
    name = script_path.replace("\\", "/").rsplit("/", 1)[-1]
    tags = {**dict(option_tags), **dict(cli_tags)}
    h = options_hash(options)
    return {
        "script": name,
        "options_hash": h,
        "test_id": tags.get("testid") or f"{name}@{h}",
        "tags": tags,
    }


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


def _section(vr: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = vr.get(key)
    return value if isinstance(value, Mapping) else {}


def record_from_summary(summary: Mapping[str, Any], source: str) -> dict[str, Any]:
    """One run's record; ValueError when the summary is not a veza-ray run summary."""
    vr = summary.get("veza_ray")
    if not isinstance(vr, Mapping) or not isinstance(vr.get("run"), Mapping):
        raise ValueError("not a veza-ray summary (no veza_ray.run section)")
    ident = vr.get("identity")
    if not isinstance(ident, Mapping):
        opts = vr.get("options") if isinstance(vr.get("options"), Mapping) else {}
        ident = identity("unknown", opts or {}, {}, {})  # an older summary: options only
    outcome = _section(vr, "outcome")
    delivery = _section(vr, "delivery")
    health = _section(vr, "generator_health")
    code = int(outcome.get("code", 0 if all(v.get("ok") for v in vr.get("verdicts") or ()) else 99))
    undelivered = float(delivery.get("undelivered_vu_seconds", 0) or 0) > 0.05 or bool(
        delivery.get("undelivered_iterations") or delivery.get("cut_short")
    )
    start = float(vr["run"].get("start_epoch", 0.0))
    return {
        "script": str(ident["script"]),
        "options_hash": str(ident["options_hash"]),
        "test_id": str(ident.get("test_id", "")),
        "tags": dict(ident.get("tags") or {}),
        "start_epoch": start,
        "end_epoch": float(vr["run"].get("end_epoch", start)),
        "day": _day(start),
        "code": code,
        "status": "PASS" if code == 0 else "FAIL",
        "reasons": list(outcome.get("reasons") or ()),
        "notes": list(outcome.get("notes") or ()),
        "complete": not undelivered and code != 103,
        "saturated": bool(health.get("saturated")),
        "regressed": bool((vr.get("comparison") or {}).get("regressed")),
        "source": source,
        "thresholds": [dict(v) for v in vr.get("verdicts") or ()],
        "data": run_data(summary),
        "series": list(vr.get("intervals") or ()),
    }


@dataclass(frozen=True)
class RunRow:
    """A run as the acceptance chain sees it."""

    id: int
    day: str
    options_hash: str
    code: int
    complete: bool
    saturated: bool

    @property
    def green(self) -> bool:
        return self.code == 0 and self.complete and not self.saturated

    def why_not(self) -> str:
        if self.code == 103 or not self.complete:
            return f"run #{self.id} was incomplete (exit {self.code}: planned load not delivered)"
        if self.code != 0:
            return f"run #{self.id} exited {self.code}"
        return f"run #{self.id} had saturated load generators"


@dataclass(frozen=True)
class Acceptance:
    accepted: bool
    line: str
    nights: tuple[tuple[str, bool], ...]  # (day, green) newest first, as far as it went


def accept(runs: Sequence[RunRow], nights: int, options_hash: str | None = None) -> Acceptance:
    """The chain over ``runs`` (one script's, any order); the hash is the newest run's
    unless given. One line says yes, or which night broke the chain and why."""
    if nights < 1:
        raise ValueError("--nights must be 1 or more")
    if not runs:
        return Acceptance(False, "not accepted: no recorded run", ())
    ordered = sorted(runs, key=lambda r: (r.day, r.id), reverse=True)
    want = options_hash or ordered[0].options_hash
    by_day: dict[str, list[RunRow]] = {}
    for r in ordered:
        by_day.setdefault(r.day, []).append(r)
    mine = [r for r in ordered if r.options_hash == want]
    if not mine:
        return Acceptance(False, f"not accepted: no run with options hash {want}", ())
    day = dt.date.fromisoformat(mine[0].day)
    seen: list[tuple[str, bool]] = []
    for i in range(nights):
        key = day.isoformat()
        runs_of_day = by_day.get(key, [])
        same = [r for r in runs_of_day if r.options_hash == want]
        broke = ""
        if not runs_of_day:
            broke = f"no run on {key}"
        elif not same:
            other = runs_of_day[0].options_hash
            broke = f"{key} ran other options (hash {other}, not {want})"
        else:
            red = [r for r in same if not r.green]
            if red:
                broke = f"{key}: " + red[0].why_not()
        seen.append((key, not broke))
        if broke:
            return Acceptance(
                False,
                f"not accepted: night {i + 1} of {nights} broke the chain: {broke}"
                + (f" ({i} green night(s) after it)" if i else ""),
                tuple(seen),
            )
        day -= dt.timedelta(days=1)
    first = seen[-1][0]
    return Acceptance(
        True,
        f"accepted: {nights} consecutive green night(s), {first} to {seen[0][0]}, "
        f"options hash {want}",
        tuple(seen),
    )
