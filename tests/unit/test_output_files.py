"""Output files are written whole or reported lost with how much: a full device, a
missing directory, a file removed under a streaming output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from veza_ray.core.guards import SECRETS
from veza_ray.outputs.base import Interval, RunStart
from veza_ray.outputs.files import write_end_outputs, write_file
from veza_ray.outputs.streams import NdjsonOutput
from veza_ray.reports.command import write_reports

START = RunStart("s.py", 0.0, 3.0, ("a",))


def _interval(n: int) -> Interval:
    point = {"t": float(n), "a": {"reqs": n, "p95": 12.5}}
    return Interval(float(n), float(n), 1.0, point, {}, [], "1 node(s)", None)  # type: ignore[arg-type]


def test_write_file_whole_or_lost(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    assert write_file("--html r.html", str(target), b"new" * 100) is None
    assert target.read_bytes() == b"new" * 100
    assert os.listdir(tmp_path) == ["r.html"]  # no temporary file left beside it
    lost = write_file("--junit j.xml", str(tmp_path / "gone" / "j.xml"), b"x" * 10)
    assert lost == "--junit j.xml: No such file or directory; 0 of 10 bytes written"
    full = write_file("--summary-export /dev/full", "/dev/full", b"{}" * 50)
    assert full == "--summary-export /dev/full: No space left on device; 0 of 100 bytes written"
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # still a device
    assert write_file("--html /dev/null", "/dev/null", b"x") is None


def test_end_outputs_render_from_the_table(tmp_path: Path) -> None:
    summary: dict[str, Any] = {"metrics": {}, "veza_ray": {}}
    shown: list[str] = []
    targets = {"summary": str(tmp_path / "s.json"), "markdown": "-", "junit": "/dev/full"}
    lost = write_end_outputs(summary, targets, shown.append)
    assert list(lost) == ["junit"] and "No space left on device" in lost["junit"]
    assert (tmp_path / "s.json").read_text().startswith("{")
    assert len(shown) == 1  # the Markdown went to the out callback


@pytest.fixture
def book() -> Iterator[None]:
    SECRETS.clear()
    yield
    SECRETS.clear()


def test_end_outputs_write_the_summary_they_are_handed(tmp_path: Path, book: None) -> None:
    """The run redacts its summary once where it makes it; the writer does not redact
    again (a second pass was repeated work on every output)."""
    SECRETS.add("cnry-learned-late")  # known now, but not when this summary was made
    summary: dict[str, Any] = {"metrics": {}, "veza_ray": {"note": "cnry-learned-late"}}
    write_end_outputs(summary, {"summary": str(tmp_path / "s.json")}, print)
    assert json.loads((tmp_path / "s.json").read_text()) == summary


def test_write_reports_redacts_a_summary_from_outside_once(tmp_path: Path, book: None) -> None:
    """``report`` and the library call hand in a summary nobody redacted: it is redacted
    there, before any report is rendered from it."""
    canary = "cnry-rpt-4f9a"
    SECRETS.add(canary)
    summary: dict[str, Any] = {
        "metrics": {f"http_reqs{{name:{canary}}}": {"count": 1, "rate": 1.0}},
        "veza_ray": {"options": {"note": canary}},
    }
    shown: list[str] = []
    html, junit = str(tmp_path / "r.html"), str(tmp_path / "j.xml")
    assert write_reports(summary, html=html, junit=junit, markdown="-", out=shown.append)
    texts = [Path(html).read_text(), Path(junit).read_text(), *shown]
    assert len(texts) == 3 and all(canary not in t for t in texts)
    assert canary in json.dumps(summary)  # the caller's summary itself is left as given


def test_ndjson_counts_what_a_full_device_lost() -> None:
    out = NdjsonOutput("/dev/full")
    out.start(START)
    for n in range(4):
        out.interval(_interval(n))
    end = out.end()
    assert len(end.lost) == 1
    line = end.lost[0]
    assert line.startswith("--out json=/dev/full: No space left on device; 0 of 4 intervals")
    assert end.summary is not None and end.summary["intervals_lost"] == 4
    assert end.summary["bytes_lost"] > 4 * 20 and f"({end.summary['bytes_lost']} bytes)" in line


def test_ndjson_whole_when_nothing_failed(tmp_path: Path) -> None:
    path = tmp_path / "m.ndjson"
    out = NdjsonOutput(str(path))
    out.start(START)
    for n in range(3):
        out.interval(_interval(n))
    end = out.end()
    assert end.lost == [] and end.summary == {
        "intervals_written": 3,
        "bytes_written": path.stat().st_size,
    }
    assert len(path.read_text().splitlines()) == 3


def test_ndjson_whose_directory_vanished_is_lost(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "m.ndjson"
    out = NdjsonOutput(str(path))
    out.start(START)
    out.interval(_interval(0))
    path.unlink()
    folder.rmdir()  # the writes still succeed, into a file nobody can reach
    out.interval(_interval(1))
    end = out.end()
    assert len(end.lost) == 1
    assert "removed or replaced during the run; 0 of 2 intervals written" in end.lost[0]
