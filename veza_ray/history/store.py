"""The run history in one SQLite file (stdlib sqlite3, WAL): what a CI cache can carry.

One row per run in ``runs`` (identity, verdict, the comparison data and the bounded
series as JSON), one row per threshold in ``thresholds``. Every failure to open, read or
write is a ``HistoryError`` with a message fit for the outcome's notes: the caller
decides what it costs (nothing, for a run).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from veza_ray.core.history import RunRow

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 2.0  # a run waits this long for a lock, then notes it and moves on

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script TEXT NOT NULL,
    options_hash TEXT NOT NULL,
    test_id TEXT NOT NULL,
    tags TEXT NOT NULL,
    start_epoch REAL NOT NULL,
    end_epoch REAL NOT NULL,
    day TEXT NOT NULL,
    code INTEGER NOT NULL,
    status TEXT NOT NULL,
    reasons TEXT NOT NULL,
    notes TEXT NOT NULL,
    complete INTEGER NOT NULL,
    saturated INTEGER NOT NULL,
    regressed INTEGER NOT NULL,
    source TEXT NOT NULL,
    data TEXT NOT NULL,
    series TEXT NOT NULL,
    UNIQUE (script, options_hash, start_epoch)
);
CREATE INDEX IF NOT EXISTS runs_script ON runs (script, options_hash, start_epoch);
CREATE TABLE IF NOT EXISTS thresholds (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    metric_key TEXT NOT NULL,
    expression TEXT NOT NULL,
    aggregation TEXT NOT NULL,
    bound REAL,
    observed REAL,
    ok INTEGER NOT NULL
);
"""

_COLUMNS = (
    "id, script, options_hash, test_id, tags, start_epoch, end_epoch, day, code, "
    "status, reasons, notes, complete, saturated, regressed, source"
)


class HistoryError(Exception):
    """The history could not be opened, read or written; the message says which and why."""


class History:
    """An open history database; use as a context manager."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        self.path = path
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
            else:
                self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(_SCHEMA)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                self.db.commit()
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error as exc:
            raise HistoryError(f"history {path}: {_why(exc)}") from exc

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def add(self, record: Mapping[str, Any]) -> tuple[int, bool]:
        """Insert a record; (id, True), or (id of the same run, False) when it is there
        already (same script, options hash and start): importing twice adds nothing."""
        try:
            with self.db:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO runs (script, options_hash, test_id, tags, "
                    "start_epoch, end_epoch, day, code, status, reasons, notes, complete, "
                    "saturated, regressed, source, data, series) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record["script"],
                        record["options_hash"],
                        record["test_id"],
                        _json(record["tags"]),
                        record["start_epoch"],
                        record["end_epoch"],
                        record["day"],
                        record["code"],
                        record["status"],
                        _json(record["reasons"]),
                        _json(record["notes"]),
                        int(record["complete"]),
                        int(record["saturated"]),
                        int(record["regressed"]),
                        record["source"],
                        _json(record["data"]),
                        _json(record["series"]),
                    ),
                )
                if cur.rowcount == 0:
                    row = self.db.execute(
                        "SELECT id FROM runs WHERE script=? AND options_hash=? AND start_epoch=?",
                        (record["script"], record["options_hash"], record["start_epoch"]),
                    ).fetchone()
                    return int(row["id"]), False
                run_id = int(cur.lastrowid or 0)
                self.db.executemany(
                    "INSERT INTO thresholds VALUES (?,?,?,?,?,?,?)",
                    [
                        (
                            run_id,
                            t.get("metric_key", ""),
                            t.get("expression", ""),
                            t.get("aggregation", ""),
                            t.get("bound"),
                            t.get("observed"),
                            int(bool(t.get("ok"))),
                        )
                        for t in record["thresholds"]
                    ],
                )
                return run_id, True
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: {_why(exc)}") from exc

    def runs(
        self,
        script: str | None = None,
        tags: Mapping[str, str] | None = None,
        last: int | None = None,
        options_hash: str | None = None,
    ) -> list[dict[str, Any]]:
        """Runs newest first, filtered by script, option hash and tags (all must match)."""
        where, args = [], []
        if script:
            where.append("script = ?")
            args.append(script)
        if options_hash:
            where.append("options_hash = ?")
            args.append(options_hash)
        sql = f"SELECT {_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_epoch DESC, id DESC"
        try:
            rows = [_row(r) for r in self.db.execute(sql, args)]
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: {_why(exc)}") from exc
        if tags:
            rows = [r for r in rows if all(r["tags"].get(k) == v for k, v in tags.items())]
        return rows[:last] if last else rows

    def get(self, run_id: int) -> dict[str, Any] | None:
        """One run with its comparison data and series."""
        try:
            r = self.db.execute(
                f"SELECT {_COLUMNS}, data, series FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if r is None:
                return None
            out = _row(r)
            out["data"] = orjson.loads(r["data"])
            out["series"] = orjson.loads(r["series"])
            out["thresholds"] = [
                dict(t)
                for t in self.db.execute(
                    "SELECT metric_key, expression, aggregation, bound, observed, ok "
                    "FROM thresholds WHERE run_id = ?",
                    (run_id,),
                )
            ]
            return out
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: {_why(exc)}") from exc

    def last_green(self, script: str, options_hash: str | None) -> dict[str, Any] | None:
        """The newest green, complete run of the script (and option hash, when given)."""
        for r in self.runs(script=script, options_hash=options_hash):
            if r["code"] == 0 and r["complete"] and not r["saturated"]:
                return self.get(int(r["id"]))
        return None

    def chain_rows(self, script: str, tags: Mapping[str, str] | None = None) -> list[RunRow]:
        """The script's runs (with these tags) as the acceptance chain reads them."""
        return [
            RunRow(
                int(r["id"]),
                r["day"],
                r["options_hash"],
                int(r["code"]),
                bool(r["complete"]),
                bool(r["saturated"]),
            )
            for r in self.runs(script=script, tags=tags)
        ]

    def scripts(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT script FROM runs ORDER BY 1")]


def _row(r: sqlite3.Row) -> dict[str, Any]:
    out = {k: r[k] for k in _COLUMNS.split(", ")}
    for k in ("tags", "reasons", "notes"):
        out[k] = orjson.loads(out[k])
    for k in ("complete", "saturated", "regressed"):
        out[k] = bool(out[k])
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value, default=repr).decode()


def _why(exc: sqlite3.Error) -> str:
    """sqlite's words, with what they mean for a run."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text} (another process holds it; waited {BUSY_TIMEOUT_S:g} s)"
    if "not a database" in text or "malformed" in text:
        return f"{text} (the file is not a usable SQLite database)"
    if "readonly" in text or "unable to open" in text:
        return f"{text} (no permission to write it, or its directory)"
    return text


def open_history(path: str, readonly: bool = False) -> History:
    return History(path, readonly)


def summaries_to_records(
    summaries: Sequence[tuple[str, Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    from veza_ray.core.history import record_from_summary

    return [record_from_summary(s, f"import:{name}") for name, s in summaries]
