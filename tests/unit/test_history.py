"""The history: records, the acceptance chain (`history accept`), import, and a database
that is locked, corrupt or read-only leaving the run's verdict and summary intact."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from veza_ray.cli import app
from veza_ray.core import exitcodes
from veza_ray.core.history import HistoryOptions, accept, options_hash, record_from_summary
from veza_ray.core.outcome import RunFacts
from veza_ray.history.runhook import finish
from veza_ray.history.store import History

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "summary_veza_mixed.json"
HASH_A = "aaaaaaaaaaaa"
HASH_B = "bbbbbbbbbbbb"


def _summary(day: int, code: int = 0, ohash: str = HASH_A, hour: int = 2) -> dict[str, Any]:
    s: dict[str, Any] = json.loads(FIXTURE.read_text())
    start = dt.datetime(2026, 12, day, hour, 30, tzinfo=dt.UTC).timestamp()
    vr = s["veza_ray"]
    vr["run"] = {"start_epoch": start, "end_epoch": start + 300, "duration_s": 300}
    vr["identity"] = {
        "script": "veza_mixed.py",
        "options_hash": ohash,
        "test_id": "gate",
        "tags": {"env": "staging"},
    }
    vr["outcome"] = {
        "code": code,
        "status": "PASS" if code == 0 else "FAIL",
        "reasons": [] if code == 0 else [f"reason {code}"],
        "notes": [],
    }
    vr["generator_health"] = {"saturated": False, "actors": []}
    if code == 103:
        vr["delivery"] = {"undelivered_vu_seconds": 120.0, "cut_short": [{"actor": 1}]}
    return s


def _db(tmp_path: Path, runs: list[dict[str, Any]]) -> str:
    path = str(tmp_path / "history.db")
    with History(path) as h:
        for s in runs:
            h.add(record_from_summary(s, "test"))
    return path


def _accept(path: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["history", "accept", "--history", path, *args])
    return res.exit_code, res.output.strip()


def test_three_green_nights_are_accepted(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(1), _summary(2), _summary(3)])
    code, line = _accept(path, "--nights", "3")
    assert code == 0, line
    assert line == (
        "veza_mixed.py: accepted: 3 consecutive green night(s), 2026-12-01 to "
        f"2026-12-03, options hash {HASH_A}"
    )


def test_a_red_night_breaks_the_chain(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(1), _summary(2, code=99), _summary(3)])
    code, line = _accept(path, "--nights", "3")
    assert code == exitcodes.NOT_ACCEPTED == 115
    assert "night 2 of 3 broke the chain: 2026-12-02: run #2 exited 99" in line
    assert "(1 green night(s) after it)" in line
    assert _accept(path, "--nights", "1")[0] == 0


def test_a_missing_night_breaks_the_chain(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(1), _summary(3), _summary(4)])
    code, line = _accept(path)
    assert code == 115 and "no run on 2026-12-02" in line


def test_a_day_with_two_runs_is_one_night(tmp_path: Path) -> None:
    # three runs, but on two days: not three nights
    path = _db(tmp_path, [_summary(2), _summary(3, hour=2), _summary(3, hour=14)])
    code, line = _accept(path)
    assert code == 115 and "no run on 2026-12-01" in line
    # two green runs on one day count once, and the chain holds
    (tmp_path / "b").mkdir()
    path2 = _db(
        tmp_path / "b", [_summary(1), _summary(2), _summary(3, hour=2), _summary(3, hour=14)]
    )
    assert _accept(path2)[0] == 0
    # a red re-run the same day turns the night red: a second run cannot hide it
    with History(path2) as h:
        h.add(record_from_summary(_summary(3, code=99, hour=20), "test"))
    code, line = _accept(path2)
    assert code == 115 and "2026-12-03: run #5 exited 99" in line


def test_an_incomplete_run_breaks_the_chain(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(1), _summary(2, code=103), _summary(3)])
    code, line = _accept(path)
    assert code == 115
    assert "2026-12-02: run #2 was incomplete (exit 103: planned load not delivered)" in line


def test_a_changed_option_hash_breaks_the_chain(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(1), _summary(2, ohash=HASH_B), _summary(3)])
    code, line = _accept(path)
    assert code == 115
    assert f"2026-12-02 ran other options (hash {HASH_B}, not {HASH_A})" in line
    # judged on the other hash on purpose: only night 2 has it
    code, line = _accept(path, "--options-hash", HASH_B)
    assert code == 115 and "no run on 2026-12-01" not in line


def test_accept_without_history_or_runs() -> None:
    assert accept([], 3).line == "not accepted: no recorded run"
    with pytest.raises(ValueError, match="nights"):
        accept([], 0)
    code, line = _accept("/nonexistent/history.db")
    assert code == 115 and "no history at /nonexistent/history.db" in line


def test_options_hash_ignores_key_order_and_sees_vus() -> None:
    a = {"scenarios": {"b": {"vus": 2}}, "thresholds": {}}
    assert options_hash(a) == options_hash({"thresholds": {}, "scenarios": {"b": {"vus": 2}}})
    assert options_hash(a) != options_hash({"scenarios": {"b": {"vus": 3}}, "thresholds": {}})


def test_import_list_and_compare_from_the_history(tmp_path: Path) -> None:
    files = []
    for day in (1, 2):
        f = tmp_path / f"night{day}.json"
        f.write_text(json.dumps(_summary(day)))
        files.append(str(f))
    db = str(tmp_path / "h.db")
    runner = CliRunner()
    res = runner.invoke(app, ["history", "import", "--history", db, *files])
    assert res.exit_code == 0, res.output
    assert "run #1" in res.output and "run #2" in res.output
    res = runner.invoke(app, ["history", "import", "--history", db, files[0]])
    assert "already there as run #1" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = runner.invoke(app, ["history", "import", "--history", db, str(bad)])
    assert res.exit_code == exitcodes.INVALID_CONFIG
    res = runner.invoke(app, ["history", "--history", db, "--tag", "env=staging", "--last", "1"])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 2 and lines[1].split()[:2] == ["2", "2026-12-02"]
    res = runner.invoke(app, ["history", "--history", db, "--tag", "env=prod"])
    assert len(res.output.strip().splitlines()) == 1
    res = runner.invoke(app, ["compare", "--history", db, "1", "2", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["base"].startswith("run #1") and not result["regressed"]
    res = runner.invoke(app, ["compare", "--history", db, "last-green", files[1], "--markdown"])
    assert res.exit_code == 0 and "veza-ray compare" in res.output
    res = runner.invoke(app, ["compare", "--history", db, "9", "2"])
    assert res.exit_code == exitcodes.INVALID_CONFIG and "no run #9" in res.output


# ---- a history that cannot be written never costs the run ---------------------------


def _finish(path: str) -> tuple[Any, dict[str, Any]]:
    summary = _summary(5)
    before = copy.deepcopy(summary["metrics"])
    notes: list[str] = []
    outcome, _ = finish(HistoryOptions(path=path), summary, RunFacts(requests=10), notes.append)
    assert summary["metrics"] == before  # the summary is the run's, untouched
    assert summary["veza_ray"]["outcome"] == outcome.to_wire()
    return outcome, summary


def test_a_recorded_run_shows_its_history_in_the_summary(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(3), _summary(4)])
    outcome, summary = _finish(path)
    assert outcome.code == 0 and not outcome.notes
    hist = summary["veza_ray"]["history"]
    assert hist["run_id"] == 3 and [r["id"] for r in hist["runs"]] == [1, 2, 3]
    assert hist["acceptance"]["accepted"] is True
    assert hist["runs"][-1]["scopes"]["browse"]["p95"] > 0


def test_a_locked_history_is_a_note(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(3)])
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        outcome, summary = _finish(path)
    finally:
        holder.rollback()
        holder.close()
    assert outcome.code == 0
    (note,) = outcome.notes
    assert note.startswith(f"run not recorded in the history: history {path}: database is locked")
    assert "history" not in summary["veza_ray"]


def test_a_corrupt_history_is_a_note(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not sqlite at all " * 200)
    outcome, _ = _finish(str(path))
    assert outcome.code == 0
    assert "not a database" in outcome.notes[0] and "not a usable SQLite" in outcome.notes[0]


def test_a_read_only_history_is_a_note(tmp_path: Path) -> None:
    path = _db(tmp_path, [_summary(3)])
    # root writes a file whatever its mode: make it immutable instead (ext4, chattr)
    lock = ["chattr", "+i", path] if os.geteuid() == 0 else None
    if lock:
        if subprocess.run(lock, capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here, and root ignores file modes")
    else:
        os.chmod(path, stat.S_IRUSR)
    try:
        outcome, _ = _finish(path)
    finally:
        if lock:
            subprocess.run(["chattr", "-i", path], check=True)
    assert outcome.code == 0
    assert outcome.notes[0].startswith("run not recorded in the history")
    assert "readonly" in outcome.notes[0] or "unable to open" in outcome.notes[0]
    with History(path) as h:  # the history itself is intact: one run, as before
        assert [r["id"] for r in h.runs()] == [1]


def test_a_history_in_a_read_only_directory_is_a_note(tmp_path: Path) -> None:
    # Works as root too: a directory where no file can be created (a file in the way).
    blocker = tmp_path / "file"
    blocker.write_text("x")
    outcome, _ = _finish(str(blocker / "history.db"))
    assert outcome.code == 0 and "unable to open" in outcome.notes[0]


def test_a_failed_verdict_is_kept_when_the_history_fails(tmp_path: Path) -> None:
    summary = _summary(5)
    facts = RunFacts(crossed=("http_req_failed rate<0.005 (measured rate = 0.02)",))
    outcome, _ = finish(
        HistoryOptions(path=str(tmp_path / "x" / "y.db")), summary, facts, lambda s: None
    )
    assert outcome.code == exitcodes.THRESHOLDS_FAILED
    assert outcome.reasons[0].startswith("threshold crossed")
    assert "run not recorded" in outcome.notes[0]


def test_baseline_regression_is_114_or_a_note_with_warn_only(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    fast = _summary(1)
    base.write_text(json.dumps(fast))
    slow = _summary(2)
    for point in slow["veza_ray"]["intervals"]:
        for entry in point["scenarios"].values():
            entry["p95"] *= 2
    slow["veza_ray"]["digests"] = {}  # the fixture has none: trend values, doubled
    for key, entry in slow["metrics"].items():
        if key.startswith("http_req_duration{scenario:"):
            entry["values"] = {k: v * 2 for k, v in entry["values"].items()}
    outcome, _ = finish(HistoryOptions(baseline=str(base)), slow, RunFacts(), lambda s: None)
    assert outcome.code == exitcodes.BASELINE_REGRESSION == 114
    assert any("worse than the baseline: http_req_duration{scenario:" in r for r in outcome.reasons)
    assert slow["veza_ray"]["comparison"]["regressed"] is True
    warn, _ = finish(
        HistoryOptions(baseline=str(base), warn_only=True),
        copy.deepcopy(slow),
        RunFacts(),
        lambda s: None,
    )
    assert warn.code == 0 and warn.notes[0].startswith("worse than the baseline (--baseline-warn")
    # 99 wins over 114
    red, _ = finish(
        HistoryOptions(baseline=str(base)),
        copy.deepcopy(slow),
        RunFacts(crossed=("x",)),
        lambda s: None,
    )
    assert red.code == 99 and any("worse than the baseline" in r for r in red.reasons)
    missing, _ = finish(
        HistoryOptions(baseline="last-green", path=str(tmp_path / "none.db")),
        _summary(3),
        RunFacts(),
        lambda s: None,
    )
    assert missing.code == 0
    assert missing.notes[0].startswith("baseline not compared: history")


def test_bad_history_flags_on_run_are_refused_before_any_load(tmp_path: Path) -> None:
    runner = CliRunner()
    script = str(Path(__file__).resolve().parents[2] / "scenarios" / "veza_mixed.py")
    for args, message in [
        (["--baseline", "last-green"], "--baseline last-green needs --history PATH"),
        (["--baseline", "7"], "--baseline 7: a run id needs --history PATH"),
        (["--baseline", str(tmp_path / "no.json")], "no such summary file"),
        (["--tag", "env"], "--tag 'env': write it as NAME=VALUE"),
    ]:
        res = runner.invoke(app, ["run", script, *args], env={"VEZA_RAY_HISTORY": ""})
        assert res.exit_code == exitcodes.INVALID_CONFIG, (args, res.output)
        assert message in res.output, (args, res.output)
