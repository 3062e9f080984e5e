"""``veza-ray history`` (list, import, accept) and ``veza-ray compare``.

Exit codes: 0 done / accepted / no row worse; 115 NOT_ACCEPTED; 114 BASELINE_REGRESSION;
104 for bad input (a file that is not a summary, a database that cannot be read, a run
id that is not there), with one line naming the bad part.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, NoReturn

import orjson
import typer

from veza_ray.core import exitcodes
from veza_ray.core.compare import CompareSettings, compare, render_markdown, render_text, run_data
from veza_ray.core.history import DEFAULT_NIGHTS, accept, parse_tags, record_from_summary
from veza_ray.history.runhook import load_baseline
from veza_ray.history.store import History, HistoryError

HistoryPath = Annotated[
    str | None,
    typer.Option("--history", envvar="VEZA_RAY_HISTORY", help="The history database (SQLite)."),
]

history_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="List recorded runs (filters below), import saved summaries, check acceptance.",
)


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"veza-ray: {message}", err=True)
    raise typer.Exit(code)


def _need(path: str | None) -> str:
    if not path:
        _fail(
            exitcodes.INVALID_CONFIG, "no history database: give --history PATH or VEZA_RAY_HISTORY"
        )
    return path


def _open(path: str, readonly: bool = True) -> History:
    if readonly and not os.path.exists(path):
        _fail(exitcodes.INVALID_CONFIG, f"history {path} does not exist")
    try:
        return History(path, readonly=readonly)
    except HistoryError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))


@history_app.callback()
def history_list(
    ctx: typer.Context,
    history: HistoryPath = None,
    script: Annotated[str | None, typer.Option("--script", help="Only this script.")] = None,
    tag: Annotated[
        list[str], typer.Option("--tag", help="Only runs with NAME=VALUE; repeatable.")
    ] = [],  # noqa: B006
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the last N runs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the recorded runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        tags = parse_tags(tag)
    except ValueError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))
    with _open(_need(history)) as h:
        try:
            runs = h.runs(script=script, tags=tags, last=last)
        except HistoryError as exc:
            _fail(exitcodes.INVALID_CONFIG, str(exc))
    if as_json:
        typer.echo(orjson.dumps(runs, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(f"{'id':>5}  {'day':10}  {'script':24}  {'options':12}  code  {'status':6}  tags")
    for r in runs:
        flags = "" if r["complete"] else " incomplete"
        flags += " saturated" if r["saturated"] else ""
        flags += " regressed" if r["regressed"] else ""
        tags_text = ",".join(f"{k}={v}" for k, v in sorted(r["tags"].items()))
        typer.echo(
            f"{r['id']:>5}  {r['day']:10}  {r['script'][:24]:24}  {r['options_hash']:12}  "
            f"{r['code']:>4}  {r['status']:6}  {tags_text}{flags}"
        )


@history_app.command("import")
def history_import(
    summaries: Annotated[list[str], typer.Argument(help="Summary JSON files (--summary-export).")],
    history: HistoryPath = None,
) -> None:
    """Add saved summaries to the history (a summary already there is skipped)."""
    path = _need(history)
    bad = 0
    with _open(path, readonly=False) as h:
        for name in summaries:
            try:
                with open(name, "rb") as fh:
                    summary = orjson.loads(fh.read())
                if not isinstance(summary, Mapping):
                    raise ValueError("not a JSON object")
                run_id, added = h.add(record_from_summary(summary, f"import:{name}"))
            except (OSError, ValueError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                typer.echo(f"veza-ray: {name}: not imported: {exc}", err=True)
                bad += 1
                continue
            except HistoryError as exc:
                _fail(exitcodes.INVALID_CONFIG, str(exc))
            typer.echo(f"{name}: {'run' if added else 'already there as run'} #{run_id}")
    if bad:
        raise typer.Exit(exitcodes.INVALID_CONFIG)


@history_app.command("accept")
def history_accept(
    history: HistoryPath = None,
    nights: Annotated[
        int, typer.Option("--nights", min=1, help="Consecutive green nights required.")
    ] = DEFAULT_NIGHTS,
    script: Annotated[
        str | None, typer.Option("--script", help="The script (default: the newest run's).")
    ] = None,
    options_hash: Annotated[
        str | None,
        typer.Option("--options-hash", help="The option hash (default: the newest run's)."),
    ] = None,
    tag: Annotated[
        list[str],
        typer.Option("--tag", help="Only runs with NAME=VALUE (e.g. trigger=schedule)."),
    ] = [],  # noqa: B006
) -> None:
    """Were the last N nights of this script and option hash consecutive, green and
    complete? Exit 0 yes, 115 no, with one line saying which night broke the chain."""
    path = _need(history)
    try:
        tags = parse_tags(tag)
    except ValueError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))
    if not os.path.exists(path):
        typer.echo(f"not accepted: no history at {path} (no run recorded yet)")
        raise typer.Exit(exitcodes.NOT_ACCEPTED)
    with _open(path) as h:
        try:
            if script is None:
                newest = h.runs(tags=tags, last=1)
                script = newest[0]["script"] if newest else ""
            rows = h.chain_rows(script, tags)
        except HistoryError as exc:
            _fail(exitcodes.INVALID_CONFIG, str(exc))
    result = accept(rows, nights, options_hash)
    typer.echo(f"{script}: {result.line}")
    raise typer.Exit(exitcodes.OK if result.accepted else exitcodes.NOT_ACCEPTED)


def _side(spec: str, history: str | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """A summary file, a run id or last-green (of NEW's script and options)."""
    script, opts = "", None
    if new is not None:
        script, opts = str(new.get("_script", "")), new.get("_options_hash")
    try:
        return load_baseline(spec, history, script, opts)
    except ValueError as exc:
        _fail(exitcodes.INVALID_CONFIG, str(exc))


def _new_side(spec: str, history: str | None) -> dict[str, Any]:
    if spec == "last-green":
        _fail(exitcodes.INVALID_CONFIG, "NEW cannot be last-green: give a summary or a run id")
    if spec.isdigit():
        with _open(_need(history)) as h:
            try:
                run = h.get(int(spec))
            except HistoryError as exc:
                _fail(exitcodes.INVALID_CONFIG, str(exc))
        if run is None:
            _fail(exitcodes.INVALID_CONFIG, f"no run #{spec} in {history}")
        data = dict(run["data"])
        data.update(
            label=f"run #{run['id']} ({run['day']})",
            _script=run["script"],
            _options_hash=run["options_hash"],
        )
        return data
    try:
        with open(spec, "rb") as fh:
            summary = orjson.loads(fh.read())
    except (OSError, orjson.JSONDecodeError) as exc:
        _fail(exitcodes.INVALID_CONFIG, f"{spec}: {exc}")
    if not isinstance(summary, Mapping):
        _fail(exitcodes.INVALID_CONFIG, f"{spec}: not a summary JSON object")
    data = run_data(summary, label=spec)
    ident = (summary.get("veza_ray") or {}).get("identity") or {}
    data.update(_script=ident.get("script", ""), _options_hash=ident.get("options_hash"))
    return data


def compare_command(
    base: Annotated[str, typer.Argument(help="Baseline: summary JSON, run id, or last-green.")],
    new: Annotated[str, typer.Argument(help="New run: summary JSON or run id.")],
    history: HistoryPath = None,
    floor: Annotated[
        float,
        typer.Option("--floor", min=0.0, help="Relative floor in %: smaller moves are 'same'."),
    ] = 10.0,
    alpha: Annotated[
        float, typer.Option("--alpha", min=1e-9, max=0.5, help="Significance level of the tests.")
    ] = 0.01,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print Markdown (a pull-request comment).")
    ] = False,
) -> None:
    """Compare two runs per threshold metric, globally and per scenario.

    A row is worse only when it moved by more than the floor AND its test (Mann-Whitney U
    on per-interval p95s; two-proportion z on error counts) gives p < alpha. Exit 0 when
    no row is worse, 114 otherwise.
    """
    new_data = _new_side(new, history)
    base_data = _side(base, history, new_data)
    result = compare(base_data, new_data, CompareSettings(floor=floor / 100.0, alpha=alpha))
    if as_json:
        typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    elif markdown:
        from veza_ray.reports.markdown import md_text

        typer.echo(render_markdown(result, md_text), nl=False)
    else:
        typer.echo(render_text(result), nl=False)
    raise typer.Exit(exitcodes.BASELINE_REGRESSION if result["regressed"] else exitcodes.OK)


def register(app: typer.Typer) -> None:
    """Add ``history`` and ``compare`` to the main app."""
    app.add_typer(history_app, name="history")
    app.command("compare")(compare_command)
