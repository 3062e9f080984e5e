"""What the terminal shows while a run goes on.

``progress_rows`` is pure: merged numbers in, one row per scenario out. A terminal gets a
rich table redrawn every second; a CI log (stdout not a TTY) gets one plain line per
scenario every ``plain_every`` seconds, so logs stay readable and short.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veza_ray.core.guards import SECRETS
from veza_ray.core.thresholds import Verdict


@dataclass(frozen=True)
class Row:
    scenario: str
    vus: int
    vus_max: int
    iterations: int
    rps: float
    p95_ms: float
    error_rate: float


def progress_rows(
    scenarios: Sequence[str],
    stats: Mapping[str, Mapping[str, int]],
    last_interval: Mapping[str, Mapping[str, float]],
    dt: float,
) -> list[Row]:
    """One row per scenario from actor stats and the newest per-interval point."""
    rows = []
    for name in scenarios:
        st = stats.get(name, {})
        point = last_interval.get(name, {})
        rows.append(
            Row(
                scenario=name,
                vus=int(st.get("active", 0)),
                vus_max=int(st.get("allocated", 0)),
                iterations=int(st.get("iterations", 0)),
                rps=float(point.get("reqs", 0.0)) / dt if dt > 0 else 0.0,
                p95_ms=float(point.get("p95", 0.0)),
                error_rate=float(point.get("error_rate", 0.0)),
            )
        )
    return rows


def plain_line(row: Row, elapsed: float, total: float) -> str:
    return (
        f"[{elapsed:6.1f}s/{total:.0f}s] {row.scenario}: {row.vus}/{row.vus_max} VUs, "
        f"{row.iterations} iterations, {row.rps:.1f} req/s, p95={row.p95_ms:.1f}ms, "
        f"errors={row.error_rate * 100:.2f}%"
    )


def verdict_line(verdicts: Sequence[Verdict]) -> str:
    if not verdicts:
        return "thresholds: none"
    parts = [f"{v.mark} {v.threshold.text}" for v in verdicts]
    return "thresholds: " + "  ".join(parts)


class LiveView:
    """Rich live table on a terminal, plain periodic lines elsewhere, nothing when quiet."""

    def __init__(
        self,
        enabled: bool,
        total: float,
        tty: bool | None = None,
        plain_every: float = 10.0,
        write: Callable[[str], None] | None = None,
        console: Any = None,
    ) -> None:
        self.enabled = enabled
        self.total = total
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.plain_every = plain_every
        self.write = write or (lambda s: print(s, file=sys.stderr, flush=True))
        self._next_plain = 0.0
        self._live: Any = None
        self._console = console

    def update(
        self, elapsed: float, rows: Sequence[Row], verdicts: Sequence[Verdict], nodes: str = ""
    ) -> None:
        if not self.enabled:
            return
        if not self.tty:
            if elapsed >= self._next_plain:
                self._next_plain = elapsed + self.plain_every
                for row in rows:
                    self.write(plain_line(row, elapsed, self.total))
                if verdicts:
                    self.write(verdict_line(verdicts))
            return
        from rich.console import Console
        from rich.live import Live

        table = _table(rows, verdicts, elapsed, self.total, nodes)
        if self._live is None:
            console = self._console or Console(stderr=True)
            self._live = Live(table, console=console, refresh_per_second=2)
            self._live.start()
        else:
            self._live.update(table)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _table(
    rows: Sequence[Row], verdicts: Sequence[Verdict], elapsed: float, total: float, nodes: str
) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"veza-ray  {elapsed:.0f}s / {total:.0f}s  {nodes}".rstrip())
    for col in ("scenario", "VUs", "iterations", "req/s", "p95", "errors"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for r in rows:
        table.add_row(
            SECRETS.redact(r.scenario),
            f"{r.vus}/{r.vus_max}",
            str(r.iterations),
            f"{r.rps:.1f}",
            f"{r.p95_ms:.1f}ms",
            f"{r.error_rate * 100:.2f}%",
        )
    marks = Text()
    for v in verdicts:
        style = "green" if v.ok else "red"
        marks.append(f"{v.mark} ", style=style)
        # Straight to the terminal, not through the driver's writer: redacted here.
        marks.append(SECRETS.redact(v.threshold.labelled(quote="") + "\n"))
    return Group(table, marks)
