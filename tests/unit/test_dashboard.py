"""The web dashboard's settings (k6's variables and defaults), their trip to a Ray job, and
the page: one renderer with the report, nothing fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from veza_ray.cli import app
from veza_ray.cluster.jobs import plan_job
from veza_ray.core.dashboard_config import DashboardConfig, from_env, parse_target
from veza_ray.core.runconfig import ConfigError, RunConfig, from_params, to_argv
from veza_ray.reports.dashboard_page import event, live_page
from veza_ray.reports.html import render_body, render_html
from veza_ray.reports.model import build

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "summary_veza_mixed.json"


def _parse(argv: list[str], env: dict[str, str] | None = None) -> RunConfig:
    cmd: Any = typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]
    return from_params(cmd.make_context("run", ["s.py", *argv]).params, env or {})


def test_k6_variables_and_defaults() -> None:
    assert from_env({}, False) == (None, None)
    assert from_env({"K6_WEB_DASHBOARD_PORT": "1"}, False) == (None, None)  # off: ignored
    dash, export = from_env({"K6_WEB_DASHBOARD": "true"}, False)
    assert dash == DashboardConfig("127.0.0.1", 5665, 10.0, False) and export is None
    env = {
        "K6_WEB_DASHBOARD": "true",
        "K6_WEB_DASHBOARD_HOST": "0.0.0.0",
        "K6_WEB_DASHBOARD_PORT": "6000",
        "K6_WEB_DASHBOARD_PERIOD": "2s",
        "K6_WEB_DASHBOARD_OPEN": "true",
        "K6_WEB_DASHBOARD_EXPORT": "r.html",
    }
    assert from_env(env, False) == (DashboardConfig("0.0.0.0", 6000, 2.0, True), "r.html")


def test_flags_and_variables_become_outputs() -> None:
    assert _parse(["--web-dashboard"]).outputs == {
        "web-dashboard": "host=127.0.0.1&port=5665&period=10s&open=false"
    }
    assert _parse(["-o", "web-dashboard"]).outputs == _parse(["--web-dashboard"]).outputs
    cfg = _parse([], {"K6_WEB_DASHBOARD": "true", "K6_WEB_DASHBOARD_EXPORT": "r.html"})
    assert cfg.outputs["html"] == "r.html" and "web-dashboard" in cfg.outputs
    # Port -1: no server, the export is still written (k6's rule).
    cfg = _parse([], {"K6_WEB_DASHBOARD": "1", "K6_WEB_DASHBOARD_PORT": "-1",
                      "K6_WEB_DASHBOARD_EXPORT": "r.html"})  # fmt: skip
    assert cfg.outputs == {"html": "r.html"}
    explicit = _parse(["-o", "web-dashboard=port=7000"], {"K6_WEB_DASHBOARD": "true"})
    assert parse_target(explicit.outputs["web-dashboard"]).port == 7000


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        ([], {"K6_WEB_DASHBOARD": "true", "K6_WEB_DASHBOARD_PORT": "x"}, "K6_WEB_DASHBOARD_PORT"),
        ([], {"K6_WEB_DASHBOARD": "true", "K6_WEB_DASHBOARD_PERIOD": "soon"}, "_PERIOD"),
        (["-o", "web-dashboard=colour=red"], {}, "'colour'"),
        (["-o", "web-dashboard=port=70000"], {}, "port"),
        (["--html", "a.html"], {"K6_WEB_DASHBOARD": "1", "K6_WEB_DASHBOARD_EXPORT": "b.html"},
         "two reports"),
    ],
)  # fmt: skip
def test_bad_settings_are_named(argv: list[str], env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(argv, env)
    assert needle in str(info.value)


def test_the_dashboard_travels_to_a_ray_job() -> None:
    target = DashboardConfig("0.0.0.0", 5665, 1.0, False).target()
    cfg = RunConfig("/tmp/s.py", outputs={"web-dashboard": target})
    assert _parse(to_argv(cfg)[1:]).outputs == cfg.outputs
    plan = plan_job(cfg, {})
    assert f"web-dashboard={target}" in plan.entrypoint


def test_page_and_report_are_one_renderer_and_fetch_nothing() -> None:
    summary: dict[str, Any] = json.loads(FIXTURE.read_text())
    ev = event(summary, 7)
    assert ev["html"] == render_body(build(summary), summary) and ev["verdict"] == "PASS"
    assert ev["html"] in render_html(summary)  # the export is exactly the report
    page = live_page(summary, "token", 1.0)
    assert ev["html"] in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert 'data-control="token"' in page
