"""``--web-dashboard`` (k6's K6_WEB_DASHBOARD): the live page, fed the merged run.

An ``Output`` like the others: every ``period`` it builds the summary of the run so far
(``core.live_summary``: the report's layout) on the driver's loop, which is all the
driver pays, and hands it to the server's own thread (``dashboard_server``), which
renders and streams it. ``finish`` (after the outcome is decided) sends the final
summary, so the page ends on the run's verdict and reasons, then stops the server.

Bound off loopback, a random token guards the control actions: it is printed once on
stderr and then registered as a secret, so it is redacted from every later line, the
summary and the reports.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

from veza_ray.core.dashboard_config import DashboardConfig, parse_target
from veza_ray.core.guards import SECRETS, is_loopback
from veza_ray.core.live_summary import live_summary
from veza_ray.outputs.base import Interval, OutputContext, OutputEnd, RunStart
from veza_ray.outputs.dashboard_server import DashboardServer


def _ms(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0, 3)


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class DashboardOutput:
    """The web dashboard as an interval output (core/output_kinds.py: web-dashboard)."""

    name = "web-dashboard"

    def __init__(self, cfg: DashboardConfig, ctx: OutputContext) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.server: DashboardServer | None = None
        self.start_info: RunStart | None = None
        self.url = ""
        self.error = ""
        self.next_at = 0.0
        self.costs: list[float] = []  # driver-loop seconds per published state

    @classmethod
    def for_run(cls, target: str, ctx: OutputContext) -> DashboardOutput:
        return cls(parse_target(target), ctx)

    def start(self, run: RunStart) -> None:
        self.start_info = run
        token = None if is_loopback(self.cfg.host) else secrets.token_urlsafe(24)
        stop = self.ctx.stop or (lambda why: None)
        server = DashboardServer(self.cfg.host, self.cfg.port, token, self.cfg.period_s, stop)
        try:
            port = server.start()
        except OSError as exc:
            self.error = f"web dashboard on {self.cfg.host}:{self.cfg.port}: {exc}"
            self.ctx.log(f"veza-ray: no {self.error}")
            return
        self.server, self.url = server, url_of(self.cfg.host, port)
        if token is None:
            self.ctx.log(f"veza-ray: web dashboard on {self.url}")
        else:
            # Shown once, on this process's own stderr; a secret from here on.
            sys.stderr.write(
                f"veza-ray: web dashboard on {self.url} (bound off loopback: control needs "
                f"the token {token} ; open {self.url}#token={token})\n"
            )
            sys.stderr.flush()
            SECRETS.add(token)
        if self.cfg.open_browser:
            import webbrowser

            webbrowser.open(self.url)

    def interval(self, iv: Interval) -> None:
        if self.server is None or self.start_info is None or iv.now < self.next_at:
            return
        t0 = time.perf_counter()
        self.next_at = iv.now + self.cfg.period_s - 0.05
        run = self.start_info
        summary = live_summary(
            iv.run,
            iv.verdicts,
            run.start_epoch,
            iv.now,
            run.planned_s,
            iv.run.options.summary_trend_stats,
            iv.tree,
        )
        self.server.publish(summary, _status(iv))
        self.costs.append(time.perf_counter() - t0)

    def end(self) -> OutputEnd:
        srv = self.server
        report: dict[str, Any] = {
            "url": self.url,
            "period_s": self.cfg.period_s,
            "states": len(self.costs),
            "driver_ms_p50": _ms(self.costs, 0.5),
            "driver_ms_max": _ms(self.costs, 1.0),
        }
        if srv is not None:
            report["render_ms_p50"] = _ms(srv.render_s, 0.5)
            report["render_ms_max"] = _ms(srv.render_s, 1.0)
            report["pages_max"] = srv.clients_max
            report["server_cpu_s"] = srv.cpu_seconds()
            report["stopped_from_page"] = srv.stop_asked
        return OutputEnd(self.name, summary=report, lost=[self.error] if self.error else [])

    def finish(self, summary: Mapping[str, Any] | None) -> None:
        """The run's final summary (its outcome decided) to every page, then stop serving."""
        if self.server is not None:
            self.server.close(summary)
            self.server = None


def _status(iv: Interval) -> dict[str, Any]:
    return {
        "vus": sum(int(s.get("active", 0)) for s in iv.stats.values()),
        "vus_max": sum(int(s.get("allocated", 0)) for s in iv.stats.values()),
        "tainted": any(not v.ok for v in iv.verdicts),
    }
