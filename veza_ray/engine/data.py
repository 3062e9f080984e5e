"""Test data: k6's ``SharedArray`` and ``DataFile``, a file split across the cluster.

Both are built while the scenario file loads (module level), so each actor reads its data
once, whatever its VU count. ``SharedArray`` is k6's read-only array; ``DataFile`` is what
k6 users have asked for for years (k6 #1539): a CSV or JSON-lines file whose rows are cut
over VUs or iterations cluster-wide with the execution-segment arithmetic
(core/datasplit.py), so every row goes to exactly one VU, or to one iteration.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, overload

from veza_ray.core.datasplit import DataSpec, DataUse, mode_problems, pick_row
from veza_ray.engine.context import LoadContext, load_context, vu_context


def freeze(value: Any) -> Any:
    """A read-only view: dicts become mappingproxies, lists tuples, all the way down."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def _loading(what: str) -> LoadContext:
    ctx = load_context.get()
    if ctx is None:
        raise RuntimeError(f"{what} is built while the scenario file loads (module level)")
    return ctx


class SharedArray(Sequence[Any]):
    """k6's ``SharedArray(name, loader)``: ``loader()`` runs once per actor (the module
    loads once there); every VU reads the same frozen items, nothing is copied per VU."""

    def __init__(self, name: str, loader: Callable[[], Sequence[Any]]) -> None:
        _loading(f"SharedArray({name!r})")
        data = loader()
        if not isinstance(data, (list, tuple)):
            raise TypeError(
                f"SharedArray({name!r}): the loader must return a list, got {type(data).__name__}"
            )
        self.name = name
        self._items: tuple[Any, ...] = tuple(freeze(v) for v in data)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"SharedArray({self.name!r}, {len(self._items)} items)"


class DataExhausted(Exception):
    """No row is left for this VU or iteration under ``on_exhausted="stop"``: the runner
    ends the VU (per-vu) or the scenario on this actor (per-iteration), not as an error."""

    def __init__(self, name: str, split: str) -> None:
        super().__init__(f"data file {name!r} has no row left ({split})")
        self.name = name
        self.split = split


def read_rows(path: str, text: str) -> list[Mapping[str, Any]]:
    """CSV (first line: the column names) or JSON lines (one object per line)."""
    if path.endswith((".jsonl", ".ndjson")):
        rows: list[Mapping[str, Any]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{n}: a row must be a JSON object")
            rows.append(row)
        return rows
    if path.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(text)))
    raise ValueError(f"{path}: a data file is .csv or .jsonl/.ndjson")


class DataFile:
    """A CSV or JSON-lines file split across the cluster; ``row()`` gives the running VU
    its row. ``split``: ``"per-vu"`` (one row per VU, all its iterations) or
    ``"per-iteration"`` (a new row each iteration); ``on_exhausted``: ``"stop"`` or
    ``"cycle"`` (wrap round). ``scenario`` names the one scenario that reads it."""

    def __init__(
        self,
        path: str,
        split: str = "per-iteration",
        on_exhausted: str = "stop",
        name: str | None = None,
        scenario: str | None = None,
    ) -> None:
        ctx = _loading(f"DataFile({path!r})")
        self.name = name or os.path.basename(path)
        self.split, self.on_exhausted, self.scenario = split, on_exhausted, scenario
        self.path = os.path.join(ctx.folder, path)
        problems = mode_problems(split, on_exhausted)
        # an input of the run (ctx.datafiles): no output may overwrite it (core/overlap.py)
        with open(self.path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            self._rows = tuple(freeze(r) for r in read_rows(self.path, text))
        except ValueError as exc:
            problems.append(str(exc))
            self._rows = ()
        if not self._rows and not problems:
            problems.append(f"{self.path} has no data rows")
        if any(d.name == self.name for d in ctx.datafiles):
            problems.append(f"two data files are named {self.name!r}: give one name=")
        ctx.errors.extend(f"DataFile({path!r}): {p}" for p in problems)
        ctx.datafiles.append(self)
        self._used: set[int] = set()
        self._uses = 0
        self._exhausted = False

    def __len__(self) -> int:
        return len(self._rows)

    def row(self) -> Mapping[str, Any]:
        """This VU's row (per-vu) or this iteration's (per-iteration), read-only."""
        vu = vu_context.get()
        if vu is None:
            raise RuntimeError(f"{self.name}.row() is read while a VU runs a flow")
        if self.scenario is not None and vu.scenario != self.scenario:  # type: ignore[attr-defined]
            raise RuntimeError(f"data file {self.name!r} belongs to scenario {self.scenario!r}")
        index = pick_row(
            self.split, self.on_exhausted, len(self._rows),
            int(vu.index_in_scenario), int(vu.iteration_in_test),  # type: ignore[attr-defined]
        )  # fmt: skip
        if index is None:
            self._exhausted = True
            raise DataExhausted(self.name, self.split)
        wanted = vu.index_in_scenario if self.split == "per-vu" else vu.iteration_in_test  # type: ignore[attr-defined]
        if index != wanted:
            self._exhausted = True  # wrapped round (cycle)
        self._used.add(index)
        self._uses += 1
        return self._rows[index]  # type: ignore[no-any-return]

    def spec(self) -> DataSpec:
        return {
            "name": self.name,
            "split": self.split,
            "on_exhausted": self.on_exhausted,
            "rows": len(self._rows),
            "scenario": self.scenario,
        }

    def usage(self) -> DataUse:
        return {
            "path": self.path,
            "split": self.split,
            "on_exhausted": self.on_exhausted,
            "rows": len(self._rows),
            "used": len(self._used),
            "uses": self._uses,
            "exhausted": self._exhausted,
        }
