"""The ``veza-ray`` command line (typer): run, target."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from veza_ray import exitcodes

if TYPE_CHECKING:
    from veza_ray.driver import RunConfig

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold the env: never print them
    help="k6-style load scenarios spread over a Ray cluster, judged on the merged numbers.",
)


def _parse_env(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            _fail(exitcodes.INVALID_CONFIG, f"-e {pair!r}: write it as NAME=VALUE")
        out[name] = value
    return out


def _ndjson_path(outs: list[str]) -> str | None:
    path = None
    for item in outs:
        kind, sep, value = item.partition("=")
        if kind != "json" or not sep or not value:
            _fail(exitcodes.INVALID_CONFIG, f"--out {item!r}: only json=PATH is supported")
        path = value
    return path


def _fail(code: int, message: str) -> None:
    from veza_ray.guards import SECRETS

    typer.echo(SECRETS.redact(f"veza-ray: {message}"), err=True)
    raise typer.Exit(code)


@app.command()
def run(
    script: Annotated[
        str, typer.Argument(help="Scenario file (.py) with options and async flows.")
    ],
    env: Annotated[
        list[str], typer.Option("-e", "--env", help="NAME=VALUE, read by env(); repeatable.")
    ] = [],  # noqa: B006
    actors: Annotated[
        int | None, typer.Option("--actors", min=1, help="Ray actors (default: one per CPU).")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster address (else RAY_ADDRESS, else local)."),
    ] = None,
    summary_export: Annotated[
        str | None, typer.Option("--summary-export", help="Write the summary JSON here.")
    ] = None,
    summary_trend_stats: Annotated[
        str | None,
        typer.Option("--summary-trend-stats", help='Trend stats, e.g. "avg,p(95),p(99.9)".'),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    allow_host: Annotated[
        list[str],
        typer.Option(
            "--allow-host",
            help="Allow load to this non-loopback host name or address; repeatable.",
        ),
    ] = [],  # noqa: B006
    secret: Annotated[
        list[str],
        typer.Option(
            "--secret",
            help="Treat this env var's value as a secret (redacted everywhere) even though "
            "its name does not say so; repeatable.",
        ),
    ] = [],  # noqa: B006
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Skip GET {BASE_URL}/api/v1/health.")
    ] = False,
    log_interval: Annotated[
        float,
        typer.Option(
            "--log-interval",
            min=0.5,
            help="Seconds between plain progress lines when stderr is not a terminal (CI logs).",
        ),
    ] = 10.0,
    spread: Annotated[
        str,
        typer.Option(
            "--spread",
            help="spread: SPREAD placement; strict: one actor per node "
            "(STRICT_SPREAD), refused when there are fewer nodes than actors.",
        ),
    ] = "spread",
    actors_per_node: Annotated[
        int | None,
        typer.Option("--actors-per-node", min=1, help="Start N actors on every alive node."),
    ] = None,
    replace_lost: Annotated[
        bool,
        typer.Option(
            "--replace-lost",
            help="Start a replacement on a live node for the rest of a lost actor's segment.",
        ),
    ] = False,
    out: Annotated[
        list[str],
        typer.Option(
            "--out",
            "-o",
            help="json=PATH: one NDJSON line per interval with the "
            "merged per-scenario metrics (for Grafana, Loki, notebooks).",
        ),
    ] = [],  # noqa: B006
    html: Annotated[
        str | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    junit: Annotated[
        str | None,
        typer.Option("--junit", help="Write JUnit XML here (a test case per threshold/check)."),
    ] = None,
    markdown: Annotated[
        str | None,
        typer.Option("--markdown", help="Write the Markdown step summary here ('-': stdout)."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Start the built-in Veza API emulator and point BASE_URL at it."
        ),
    ] = False,
) -> None:
    """Run a scenario file on a Ray cluster and judge its thresholds on the merged data."""
    from veza_ray.driver import RunConfig

    cfg = RunConfig(
        script_path=script,
        env_overrides=_parse_env(env),
        actors=actors,
        address=address,
        summary_export=summary_export,
        trend_stats=summary_trend_stats,
        quiet=quiet,
        allow_hosts=list(allow_host),
        secret_names=list(secret),
        preflight=not no_preflight,
        log_interval=log_interval,
        spread=spread,
        actors_per_node=actors_per_node,
        replace_lost=replace_lost,
        ndjson_path=_ndjson_path(out),
        html=html,
        junit=junit,
        markdown=markdown,
    )
    if spread not in ("spread", "strict"):
        _fail(exitcodes.INVALID_CONFIG, f"--spread {spread!r}: use 'spread' or 'strict'")
    if actors_per_node and actors:
        _fail(exitcodes.INVALID_CONFIG, "use either --actors or --actors-per-node, not both")
    emulator = None
    if demo:
        from veza_ray.emulator import EmulatorThread

        emulator = EmulatorThread()
        emulator.start()
        cfg.env_overrides["BASE_URL"] = emulator.base_url
        # A demo scales the Veza gate to this machine: ~1 % of its VUs per core.
        scale = min(1.0, 0.01 * (os.cpu_count() or 1))
        cfg.env_overrides.setdefault("VEZA_RAY_DEMO_SCALE", f"{scale:g}")
        # The emulator accepts any bearer token; a real one is never needed for the demo.
        cfg.env_overrides.setdefault("USER_TOKEN", "demo-token")
        typer.echo(f"veza-ray: demo target (Veza API emulator) on {emulator.base_url}", err=True)
    try:
        _run(cfg)
    finally:
        if emulator is not None:
            emulator.stop()


def _run(cfg: RunConfig) -> None:
    from veza_ray.driver import RunError, execute, prepare

    try:
        prep = prepare(cfg)
        code = execute(prep, cfg, out=lambda s: print(s, flush=True))
    except RunError as exc:
        _fail(exc.code, str(exc))
        return
    raise typer.Exit(code)


@app.command()
def report(
    summary: Annotated[str, typer.Argument(help="A summary JSON from --summary-export.")],
    html: Annotated[str | None, typer.Option("--html", help="HTML report path.")] = None,
    junit: Annotated[str | None, typer.Option("--junit", help="JUnit XML path.")] = None,
    markdown: Annotated[
        str | None, typer.Option("--markdown", help="Markdown path, or '-' for stdout.")
    ] = None,
) -> None:
    """Render the reports from a saved summary (so CI can render after the run)."""
    from veza_ray.report_cli import report as render

    raise typer.Exit(render(summary, html=html, junit=junit, markdown=markdown))


@app.command()
def target(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    profile: Annotated[str, typer.Option(help="Latency profile: none, fast, heavy.")] = "fast",
    error_rate: Annotated[float, typer.Option(help="Share of requests answered 503.")] = 0.0,
    reset_rate: Annotated[float, typer.Option(help="Share of connections reset.")] = 0.0,
    fail_health: Annotated[bool, typer.Option(help="Answer 503 on /api/v1/health.")] = False,
    allow_public: Annotated[
        bool,
        typer.Option(help="Listen on a non-loopback address (a rehearsal cluster's target)."),
    ] = False,
) -> None:
    """Serve the Veza API emulator (the built-in demo target)."""
    from veza_ray.emulator import EmulatorConfig, serve_forever

    try:
        serve_forever(
            EmulatorConfig(
                profile=profile,
                error_rate=error_rate,
                reset_rate=reset_rate,
                fail_health=fail_health,
            ),
            host,
            port,
            allow_public=allow_public,
        )
    except ValueError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(exitcodes.EXTERNAL_ABORT)


if __name__ == "__main__":
    main()
