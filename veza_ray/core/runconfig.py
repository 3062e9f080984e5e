"""The run's configuration, and the one parser that builds it from the command's flags.

Pure. ``veza-ray run`` and ``veza-ray submit`` both parse their arguments with the same
click command (``run``'s), then call ``from_params``: one set of checks, one typed
``RunConfig``. ``to_argv`` is its inverse, so the Ray job that ``submit`` starts parses
back the same configuration (tests/unit/test_runconfig.py checks the round trip for every
option of ``run``).

A new option is one entry in ``SIMPLE`` (parameter -> field, flag), its field here and
its declaration in cli.py, unless it needs a check of its own in ``from_params``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from veza_ray.core.dashboard_config import (
    DashboardConfig,
    DashboardConfigError,
    from_env,
    parse_target,
)
from veza_ray.core.history import HistoryOptions, parse_tags
from veza_ray.core.output_kinds import BY_KIND, OUTPUTS, out_usage, param_name

SPREADS = ("spread", "strict")
MERGE_TREES = ("auto", "on", "off")
DASHBOARD = "web-dashboard"  # the output_kinds kind of the live web dashboard


class ConfigError(ValueError):
    """A flag that cannot be run (exit 104); the message names it."""


@dataclass
class RunConfig:
    """Everything the command line decided; passed down instead of read from globals."""

    script_path: str
    env_overrides: dict[str, str] = field(default_factory=dict)
    actors: int | None = None
    actors_auto: bool = False  # --actors auto: actors per node from the plan's rates
    address: str | None = None
    trend_stats: str | None = None
    quiet: bool = False
    pull_interval: float = 1.0
    lease_s: float = 5.0
    start_delay: float = 1.5
    sigint_grace: float = 2.0
    allow_hosts: list[str] = field(default_factory=list)
    preflight: bool = True
    health_path: str = "/api/v1/health"
    log_interval: float = 10.0
    spread: str = "spread"
    actors_per_node: int | None = None
    replace_lost: bool = False
    pull_wait: float = 0.8
    silent_s: float = 8.0
    abort_eval_s: float = 2.0
    outputs: dict[str, str] = field(default_factory=dict)  # output_kinds kind -> target
    secret_names: list[str] = field(default_factory=list)
    allow_saturated: bool = False
    allow_output_loss: bool = False  # an output lost at the end is a note, not exit 113
    demo: bool = False  # the CLI starts the Veza API emulator and points BASE_URL at it
    pause_s: float = 3.0  # a gap this long between two driver rounds is reported
    merge_tree: str = "auto"  # aggregator.MODES: one aggregator per node merges its actors
    # --history, --baseline, and --tag: the run's label in the history and k6's run tags on
    # every sample (``run_tags``)
    history: HistoryOptions = field(default_factory=HistoryOptions)

    @property
    def run_tags(self) -> dict[str, str]:
        """``--tag NAME=VALUE``: on every sample, replacing the script's ``tags`` (k6)."""
        return dict(self.history.tags)

    def target(self, kind: str) -> str | None:
        """Where the output ``kind`` goes (a path, a URL, '-'), or None when not asked."""
        return self.outputs.get(kind)

    @property
    def summary_export(self) -> str | None:
        return self.target("summary")

    def file_outputs(self) -> list[tuple[str, str]]:
        """(label, path) of every output that is a local file, as the user wrote it."""
        out = []
        for o in OUTPUTS:
            path = self.outputs.get(o.kind)
            if path and o.is_file and not (o.stdout_ok and path == "-"):
                out.append((o.label(path), path))
        return out


# Options that map one to one onto a field: parameter name -> (field, flag).
SIMPLE: dict[str, tuple[str, str]] = {
    "address": ("address", "--address"),
    "summary_trend_stats": ("trend_stats", "--summary-trend-stats"),
    "quiet": ("quiet", "--quiet"),
    "allow_host": ("allow_hosts", "--allow-host"),
    "secret": ("secret_names", "--secret"),
    "log_interval": ("log_interval", "--log-interval"),
    "spread": ("spread", "--spread"),
    "actors_per_node": ("actors_per_node", "--actors-per-node"),
    "replace_lost": ("replace_lost", "--replace-lost"),
    "merge_tree": ("merge_tree", "--merge-tree"),
    "demo": ("demo", "--demo"),
    "allow_saturated": ("allow_saturated", "--allow-saturated"),
    "allow_output_loss": ("allow_output_loss", "--allow-output-loss"),
}
# Options ``from_params`` reads itself.
SPECIAL = (
    "script",
    "env",
    "actors",
    "no_preflight",
    "out",
    "web_dashboard",
    "history",
    "tag",
    "baseline",
    "baseline_warn_only",
    *(param_name(o) for o in OUTPUTS if not o.via_out),
)


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``-e NAME=VALUE`` pairs; the last one of a name wins, as in k6."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"-e {pair!r}: write it as NAME=VALUE")
        out[name] = value
    return out


def parse_actors(value: str | None) -> tuple[int | None, bool]:
    """``--actors N|auto`` -> (count, auto); the driver decides auto once it sees the nodes."""
    if value is None or value == "auto":
        return None, value == "auto"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"--actors {value!r}: write a count of 1 or more, or auto")
    return n, False


def parse_outputs(params: Mapping[str, Any]) -> dict[str, str]:
    """Every output asked for (its own flag, or ``--out KIND=TARGET``), by kind."""
    outputs: dict[str, str] = {}
    for o in OUTPUTS:
        if not o.via_out and params.get(param_name(o)):
            outputs[o.kind] = str(params[param_name(o)])
    for item in params.get("out") or ():
        kind, sep, value = str(item).partition("=")
        if kind == DASHBOARD:
            outputs.pop(kind, None)
            dash = _dashboard_target(value)
            if dash.serves:
                outputs[kind] = dash.target()
            continue
        known = BY_KIND.get(kind)
        if known is None or not known.via_out or not sep or not value:
            raise ConfigError(f"--out {item!r}: use {out_usage()}")
        outputs[kind] = value
    return outputs


def _dashboard_target(value: str) -> DashboardConfig:
    try:
        return parse_target(value)
    except DashboardConfigError as exc:
        raise ConfigError(str(exc)) from None


def dashboard_outputs(
    outputs: dict[str, str], enabled: bool, env: Mapping[str, str]
) -> dict[str, str]:
    """``--web-dashboard`` and k6's K6_WEB_DASHBOARD* variables folded into the outputs:
    the dashboard's target (an explicit ``--out web-dashboard=`` wins) and its export,
    which is the HTML report (``--html``)."""
    try:
        dash, export = from_env(env, enabled)
    except DashboardConfigError as exc:
        raise ConfigError(str(exc)) from None
    if dash is not None and dash.serves:
        outputs.setdefault(DASHBOARD, dash.target())
    if export:
        html = outputs.get("html")
        if html is not None and html != export:
            raise ConfigError(
                f"K6_WEB_DASHBOARD_EXPORT={export!r} and --html {html!r} name two reports; keep one"
            )
        outputs["html"] = export
    return outputs


def parse_history(params: Mapping[str, Any]) -> HistoryOptions:
    """``--history``, ``--tag``, ``--baseline``, ``--baseline-warn-only`` (docs/history.md)."""
    try:
        opts = HistoryOptions(
            params.get("history") or None,
            parse_tags(params.get("tag") or ()),
            params.get("baseline") or None,
            bool(params.get("baseline_warn_only")),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    problem = opts.problem()
    if problem:
        raise ConfigError(problem)
    return opts


def from_params(params: Mapping[str, Any], env: Mapping[str, str] | None = None) -> RunConfig:
    """The run's configuration from ``run``'s parsed options (and, for the dashboard, k6's
    K6_WEB_DASHBOARD* variables in ``env``); ConfigError names a bad one."""
    actors, auto = parse_actors(params.get("actors"))
    outputs = dashboard_outputs(parse_outputs(params), bool(params.get("web_dashboard")), env or {})
    cfg = RunConfig(
        script_path=str(params["script"]),
        env_overrides=parse_env(params.get("env") or ()),
        actors=actors,
        actors_auto=auto,
        preflight=not params.get("no_preflight", False),
        outputs=outputs,
        history=parse_history(params),
    )
    simple: dict[str, Any] = {}
    for name, (attr, _flag) in SIMPLE.items():
        if params.get(name) is not None:
            value = params[name]
            simple[attr] = list(value) if isinstance(value, list | tuple) else value
    cfg = replace(cfg, **simple)
    if cfg.spread not in SPREADS:
        raise ConfigError(f"--spread {cfg.spread!r}: use 'spread' or 'strict'")
    if cfg.merge_tree not in MERGE_TREES:
        raise ConfigError(f"--merge-tree {cfg.merge_tree!r}: use auto, on or off")
    if cfg.actors_per_node and (cfg.actors or cfg.actors_auto):
        raise ConfigError("use either --actors or --actors-per-node, not both")
    return cfg


_DEFAULTS = {f.name: f.default for f in fields(RunConfig)}


def to_argv(cfg: RunConfig) -> list[str]:
    """``run``'s arguments that ``from_params`` turns back into ``cfg`` (defaults left out)."""
    argv = [cfg.script_path]
    for name, value in cfg.env_overrides.items():
        argv += ["-e", f"{name}={value}"]
    if cfg.actors_auto:
        argv += ["--actors", "auto"]
    elif cfg.actors is not None:
        argv += ["--actors", str(cfg.actors)]
    if not cfg.preflight:
        argv.append("--no-preflight")
    for o in OUTPUTS:
        target = cfg.outputs.get(o.kind)
        if target:
            argv += ["--out", f"{o.kind}={target}"] if o.via_out else [o.flag, target]
    h = cfg.history
    if h.path:
        argv += ["--history", h.path]
    for name, value in h.tags.items():
        argv += ["--tag", f"{name}={value}"]
    if h.baseline:
        argv += ["--baseline", h.baseline]
    if h.warn_only:
        argv.append("--baseline-warn-only")
    for attr, flag in SIMPLE.values():
        value = getattr(cfg, attr)
        if value is None or value == [] or value == _DEFAULTS.get(attr):
            continue
        if isinstance(value, bool):
            argv.append(flag)
        elif isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv
