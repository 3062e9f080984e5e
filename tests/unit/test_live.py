"""The live view's pure parts and its plain (CI log) mode."""

from __future__ import annotations

from veza_ray.live import LiveView, plain_line, progress_rows


def test_rows_turn_interval_counts_into_rates() -> None:
    rows = progress_rows(
        ["a", "b"],
        {"a": {"active": 3, "allocated": 4, "iterations": 10}},
        {"a": {"reqs": 50.0, "p95": 12.5, "error_rate": 0.02}},
        dt=2.0,
    )
    assert rows[0].rps == 25.0 and rows[0].vus == 3 and rows[0].vus_max == 4
    assert rows[1].rps == 0.0 and rows[1].iterations == 0
    line = plain_line(rows[0], 5.0, 30.0)
    assert "a: 3/4 VUs" in line and "25.0 req/s" in line and "p95=12.5ms" in line
    assert "errors=2.00%" in line


def test_plain_mode_writes_every_interval_only() -> None:
    seen: list[str] = []
    view = LiveView(True, 60.0, tty=False, plain_every=10.0, write=seen.append)
    rows = progress_rows(["s"], {}, {}, 1.0)
    for t in range(0, 31):
        view.update(float(t), rows, [])
    assert len(seen) == 4  # at 0, 10, 20 and 30 s


def test_quiet_writes_nothing() -> None:
    seen: list[str] = []
    view = LiveView(False, 60.0, tty=False, write=seen.append)
    view.update(0.0, progress_rows(["s"], {}, {}, 1.0), [])
    assert seen == []
