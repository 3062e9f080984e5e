"""The ``veza-ray`` command line (typer): run, target, history, compare."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, Any

import typer

from veza_ray.cluster.interrupts import Interrupts
from veza_ray.core import exitcodes
from veza_ray.core.runconfig import ConfigError, RunConfig, from_params, parse_env
from veza_ray.core.stop import StopRequested

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold the env: never print them
    help="k6-style load scenarios spread over a Ray cluster, judged on the merged numbers.",
)


def version_line() -> str:
    """One line as ``k6 version`` prints: this build and what it runs on (llhttp is
    httptools' bundled copy, which does not expose its own version)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from veza_ray.core.version import __version__

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    return (
        f"veza-ray v{__version__} (ray {of('ray')}, python {platform.python_version()}, "
        f"llhttp via httptools {of('httptools')}, {sys.platform}/{platform.machine()})"
    )


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print the versions of veza-ray, Ray, Python and llhttp, and exit.",
        ),
    ] = False,
) -> None:
    """k6-style load scenarios spread over a Ray cluster, judged on the merged numbers."""


def _config(params: dict[str, Any]) -> RunConfig:
    """The run's configuration from `run`'s options: the one parser `submit` uses too."""
    try:
        return from_params(params, os.environ)
    except ConfigError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))
        raise  # unreachable: _fail raises


def _parse_env(pairs: list[str]) -> dict[str, str]:
    try:
        return parse_env(pairs)
    except ConfigError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))
        raise


def _fail(code: int, message: str) -> None:
    from veza_ray.core.guards import SECRETS

    typer.echo(SECRETS.redact(f"veza-ray: {message}"), err=True)
    raise typer.Exit(code)


@app.command()
def run(
    ctx: typer.Context,
    script: Annotated[
        str, typer.Argument(help="Scenario file (.py) with options and async flows.")
    ],
    env: Annotated[
        list[str], typer.Option("-e", "--env", help="NAME=VALUE, read by env(); repeatable.")
    ] = [],  # noqa: B006
    actors: Annotated[
        str | None,
        typer.Option(
            "--actors",
            help="Ray actors: N, or auto (from the plan's rates: veza-ray inspect); "
            "default one per CPU.",
        ),
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
    merge_tree: Annotated[
        str,
        typer.Option(
            "--merge-tree",
            help="auto: one aggregator per node holding 4+ actors, on multi-node runs; "
            "on: one on every node; off: the driver merges every actor itself.",
        ),
    ] = "auto",
    out: Annotated[
        list[str],
        typer.Option(
            "--out",
            "-o",
            help="json=PATH: one NDJSON line per interval with the "
            "merged per-scenario metrics (for Grafana, Loki, notebooks). "
            "prometheus=URL: push the merged series each interval to a Prometheus "
            "remote-write endpoint, named as k6's experimental-prometheus-rw output.",
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
    allow_saturated: Annotated[
        bool,
        typer.Option(
            "--allow-saturated",
            envvar="VEZA_RAY_ALLOW_SATURATED",
            help="Do not fail the run (exit 112) when the load generators were saturated.",
        ),
    ] = False,
    web_dashboard: Annotated[
        bool,
        typer.Option(
            "--web-dashboard",
            help="Serve the live web dashboard while the run goes on (k6's "
            "K6_WEB_DASHBOARD=true; K6_WEB_DASHBOARD_HOST/_PORT/_PERIOD/_OPEN/_EXPORT apply).",
        ),
    ] = False,
    allow_output_loss: Annotated[
        bool,
        typer.Option(
            "--allow-output-loss",
            help="Do not fail the run (exit 113) when an output it was asked to write was "
            "lost or cut short (full disk, vanished directory, refused push); note it.",
        ),
    ] = False,
    # ---- history and baseline (veza_ray/history/, docs/history.md) ----
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            envvar="VEZA_RAY_HISTORY",
            help="Record the run in this "
            "SQLite history (never changes the verdict; a failure is a note).",
        ),
    ] = None,
    tag: Annotated[
        list[str],
        typer.Option(
            "--tag",
            help="NAME=VALUE on every sample (k6's --tag: replaces the script's tags "
            "option) and the run's label in the history; repeatable.",
        ),
    ] = [],  # noqa: B006
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Compare with last-green, a history RUN_ID or a "
            "summary FILE; a worse row exits 114.",
        ),
    ] = None,
    baseline_warn_only: Annotated[
        bool, typer.Option("--baseline-warn-only", help="A worse row is a note, not exit 114.")
    ] = False,
) -> None:
    """Run a scenario file on a Ray cluster and judge its thresholds on the merged data."""
    cfg = _config(ctx.params)
    baseline_file = cfg.history.baseline
    if (
        baseline_file
        and baseline_file != "last-green"
        and not baseline_file.isdigit()
        and not os.path.isfile(baseline_file)
    ):
        _fail(exitcodes.INVALID_CONFIG, f"--baseline {baseline_file!r}: no such summary file")
    emulator = None
    if demo:
        from veza_ray.emulator import EmulatorConfig, EmulatorThread

        try:  # VEZA_EMULATOR_SLOW / _FLAKY: a regression on purpose (docs/emulator.md)
            emulator = EmulatorThread(EmulatorConfig.from_env(os.environ))
        except ValueError as exc:
            _fail(exitcodes.INVALID_CONFIG, str(exc))
            raise
        emulator.start()
        cfg.env_overrides["BASE_URL"] = emulator.base_url
        # A demo scales the Veza gate to this machine: ~1 % of its VUs per core.
        scale = min(1.0, 0.01 * (os.cpu_count() or 1))
        cfg.env_overrides.setdefault("VEZA_RAY_DEMO_SCALE", f"{scale:g}")
        # The emulator accepts any bearer token; a real one is never needed for the demo.
        cfg.env_overrides.setdefault("USER_TOKEN", "demo-token")
        typer.echo(f"veza-ray: demo target (Veza API emulator) on {emulator.base_url}", err=True)
    interrupts = ctx.obj if isinstance(ctx.obj, Interrupts) else None
    try:
        _run(cfg, interrupts)
    finally:
        if emulator is not None:
            emulator.stop()


def _run(cfg: RunConfig, interrupts: Interrupts | None) -> None:
    from veza_ray.cluster.driver import RunError, execute, prepare

    try:
        # A first signal while the script loads is acted on once it has (so the summary
        # can be written where asked, its path checked); a second one stops at once.
        with interrupts.deferring() if interrupts else contextlib.nullcontext():
            prep = prepare(cfg)
        code = execute(prep, cfg, out=lambda s: print(s, flush=True), interrupts=interrupts)
    except RunError as exc:
        _fail(exc.code, str(exc))
        return
    except (StopRequested, KeyboardInterrupt) as exc:
        name = exc.signal_name if isinstance(exc, StopRequested) else "SIGINT"
        _fail(exitcodes.EXTERNAL_ABORT, f"stopped by {name} before any VU started; no load sent")
        return
    raise typer.Exit(code)


@app.command()
def inspect(
    script: Annotated[str, typer.Argument(help="Scenario file (.py) to inspect.")],
    env: Annotated[
        list[str], typer.Option("-e", "--env", help="NAME=VALUE, read by env(); repeatable.")
    ] = [],  # noqa: B006
    actors: Annotated[
        int | None,
        typer.Option("--actors", min=1, help="Plan for N actors (default: --address's CPUs)."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Count the CPUs of this Ray cluster (sends no load)."),
    ] = None,
    allow_host: Annotated[
        list[str], typer.Option("--allow-host", help="As for run; repeatable.")
    ] = [],  # noqa: B006
    from_summary: Annotated[
        str | None,
        typer.Option(
            "--from-summary",
            help="A previous run's summary JSON: measured requests/s per VU per scenario.",
        ),
    ] = None,
    secret: Annotated[
        list[str], typer.Option("--secret", help="As for run: redact this env var's value.")
    ] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Parse a script and its options, print the plan and per-actor estimates; no load.

    Exit 0 for a valid script, 104 for invalid options, 107 for a script that does not
    load: the "script parses clean" step of a CI job, like `k6 inspect`.
    """
    import orjson

    from veza_ray.cluster.driver import RunError, prepare
    from veza_ray.core.guards import SECRETS
    from veza_ray.core.inspect import build_report, calibration, render
    from veza_ray.core.plan import make_plan

    cfg = RunConfig(
        script_path=script,
        env_overrides=_parse_env(env),
        allow_hosts=allow_host,
        secret_names=secret,
    )
    try:
        prep = prepare(cfg)
    except RunError as exc:
        _fail(exc.code, str(exc))
        return
    rates: dict[str, float] = {}
    if from_summary:
        try:
            with open(from_summary, "rb") as fh:
                rates = calibration(orjson.loads(fh.read()))
        except (OSError, orjson.JSONDecodeError) as exc:
            _fail(exitcodes.INVALID_CONFIG, f"--from-summary {from_summary!r}: {exc}")
    n = actors or (_cluster_cpus(address) if address else (os.cpu_count() or 1))
    specs = [d.spec() for d in prep.script.datafiles]
    report = build_report(prep.options, make_plan(prep.options.scenarios, n), rates, specs)
    if as_json:  # redacted as the text is: every output of every command
        shown = SECRETS.redact_obj(report)
        typer.echo(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(prep.redact(render(report)))


def _cluster_cpus(address: str) -> int:
    """Alive CPUs of a Ray cluster, for inspect's default plan (starts no actor)."""
    import logging

    import ray

    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    except Exception as exc:
        _fail(exitcodes.CLUSTER_ERROR, f"could not connect to {address}: {exc}")
        return 1
    finally:
        ray.shutdown()
    return max(1, cpus)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def submit(ctx: typer.Context) -> None:
    """Run a scenario as a Ray Job: SCRIPT, run's options, --address http://HEAD:8265.

    The script's directory is the job's working dir; the progress lines are shown live;
    the summary and report files come back to the paths given here; the exit code is the
    run's own. Ctrl-C stops the job (105). Token auth: RAY_AUTH_MODE/RAY_AUTH_TOKEN.
    """
    from veza_ray.cluster.jobs import SubmitError
    from veza_ray.cluster.jobs import submit as submit_job

    if not ctx.args or ctx.args[0] in ("--help", "-h"):
        typer.echo(ctx.get_help())
        typer.echo("\nEvery `veza-ray run` option is accepted (see `veza-ray run --help`).")
        raise typer.Exit(0)
    cfg = _config(_run_params(list(ctx.args)))
    interrupts = ctx.obj if isinstance(ctx.obj, Interrupts) else None
    try:
        code = submit_job(cfg, interrupts)
    except SubmitError as exc:
        if str(exc):
            _fail(exc.code, str(exc))
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)


def _run_params(args: list[str]) -> dict[str, Any]:
    """`submit`'s arguments read exactly as `run` reads them (its click command)."""
    command = typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]
    try:
        return dict(command.make_context("veza-ray submit", args).params)
    except typer.Exit:  # --help was printed
        raise
    except typer.TyperException as exc:
        format_message = getattr(exc, "format_message", None)
        _fail(exitcodes.INVALID_CONFIG, format_message() if format_message else str(exc))
        raise


@app.command()
def convert(
    script: Annotated[str, typer.Argument(help="The k6 script (.js) to convert.")],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Where to write the .py (default: beside).")
    ] = None,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Exit 0 even when TODO(convert) lines remain.")
    ] = False,
) -> None:
    """Convert a k6 script to a veza-ray scenario file (exit 116 when TODOs remain)."""
    from veza_ray.convert.command import convert_file

    raise typer.Exit(convert_file(script, output, allow_partial, lambda s: typer.echo(s, err=True)))


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
    from veza_ray.reports.command import report as render

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
            EmulatorConfig.from_env(
                os.environ,
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


@app.command("version")
def version_command() -> None:
    """Print the versions of veza-ray, Ray, Python and llhttp (as `k6 version`)."""
    typer.echo(version_line())


def _register_history() -> None:
    from veza_ray.history.commands import register

    register(app)  # history (list, import, accept) and compare


_register_history()


def main() -> None:
    """The console entry point: Ctrl-C, SIGTERM and SIGHUP mean exit 105 in every phase of
    a run; a closed stdout or stderr never changes the exit code (outputs/stdstreams.py)."""
    from veza_ray.outputs.stdstreams import guard_std_streams

    guard_std_streams()
    interrupts = Interrupts().install()
    try:
        app(obj=interrupts)
    except (KeyboardInterrupt, StopRequested):
        sys.exit(exitcodes.EXTERNAL_ABORT)


if __name__ == "__main__":
    main()
