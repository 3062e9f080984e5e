"""The live view's pure parts and its plain (CI log) mode."""

from __future__ import annotations

from veza_ray.outputs.live import LiveView, plain_line, progress_rows


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


def test_terminal_mode_draws_a_table_with_verdicts() -> None:
    import io

    from rich.console import Console

    from veza_ray.core.metric_types import BUILTIN_METRICS
    from veza_ray.core.thresholds import judge, parse_thresholds

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    view = LiveView(True, 30.0, tty=True, console=console)
    rows = progress_rows(
        ["browse"],
        {"browse": {"active": 5, "allocated": 5, "iterations": 42}},
        {"browse": {"reqs": 80.0, "p95": 9.5, "error_rate": 0.0}},
        1.0,
    )
    (th,) = parse_thresholds({"http_req_failed": ["rate<0.01"]}, BUILTIN_METRICS)
    view.update(3.0, rows, [judge(th, 0.02)], "1 node(s), 2 actor(s)")
    view.close()
    screen = buf.getvalue()
    assert "browse" in screen and "5/5" in screen and "80.0" in screen and "9.5ms" in screen
    assert "✗ http_req_failed: rate<0.01" in screen
    assert "1 node(s), 2 actor(s)" in screen
