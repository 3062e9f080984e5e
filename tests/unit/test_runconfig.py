"""One parser for `run` and `submit`: every option of `run` reaches RunConfig, and the
configuration a job receives (to_argv) parses back to the same one."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
import typer

from veza_ray.cli import app
from veza_ray.core.jobframe import COLLECTABLE
from veza_ray.core.output_kinds import END, INTERVAL, OUTPUTS, param_name
from veza_ray.core.runconfig import (
    SIMPLE,
    SPECIAL,
    ConfigError,
    RunConfig,
    from_params,
    to_argv,
)
from veza_ray.outputs.base import load_impl


def _command() -> Any:
    return typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]


def _parse(argv: list[str]) -> RunConfig:
    return from_params(_command().make_context("run", argv).params)


def test_every_option_of_run_reaches_the_configuration() -> None:
    names = {p.name for p in _command().params}
    assert names == set(SIMPLE) | set(SPECIAL), "add a new option to runconfig.SIMPLE"
    attrs = {f.name for f in fields(RunConfig)}
    assert {attr for attr, _ in SIMPLE.values()} <= attrs


def test_a_configuration_with_every_option_set_survives_the_trip_to_the_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VEZA_RAY_ALLOW_SATURATED", raising=False)  # the flag's envvar
    cfg = RunConfig(
        script_path="s.py",
        env_overrides={"BASE_URL": "http://127.0.0.1:1", "X": "a=b"},
        actors=3,
        address="ray://h:10001",
        trend_stats="avg,p(99)",
        quiet=True,
        allow_hosts=["a.lxd", "b.lxd"],
        preflight=False,
        log_interval=2.5,
        spread="strict",
        replace_lost=True,
        outputs={
            "summary": "s.json",
            "json": "m.ndjson",
            "prometheus": "http://127.0.0.1:9090/api/v1/write",
            "html": "r.html",
            "junit": "j.xml",
            "markdown": "-",
        },
        secret_names=["SESSION"],
        allow_saturated=True,
        allow_output_loss=True,
        demo=True,
        merge_tree="off",
    )
    assert _parse(to_argv(cfg)) == cfg
    for other in (
        RunConfig("s.py", actors_auto=True),
        RunConfig("s.py", actors_per_node=2),
        RunConfig("s.py"),
    ):
        assert _parse(to_argv(other)) == other
    assert to_argv(RunConfig("s.py")) == ["s.py"]  # defaults are not repeated


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-e", "NOEQUALS"], "NOEQUALS"),
        (["--actors", "0"], "--actors '0'"),
        (["--actors", "many"], "--actors 'many'"),
        (["--spread", "wide"], "--spread"),
        (["--merge-tree", "always"], "--merge-tree"),
        (["--actors", "2", "--actors-per-node", "1"], "not both"),
        (["--actors", "auto", "--actors-per-node", "1"], "not both"),
        (["-o", "csv=x.csv"], "json=PATH or prometheus=URL"),
        (["-o", "json="], "json=PATH"),
        (["-o", "html=r.html"], "json=PATH"),  # html has a flag of its own, not --out
    ],
)
def test_bad_flags_are_named(argv: list[str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(["s.py", *argv])
    assert needle in str(info.value)


def test_the_output_table_is_whole() -> None:
    """Each entry names code that exists and fits its phase; jobs collect its files."""
    assert len({o.kind for o in OUTPUTS}) == len(OUTPUTS)
    for o in OUTPUTS:
        impl = load_impl(o.impl)
        if o.phase == INTERVAL:
            assert hasattr(impl, "for_run") and hasattr(impl, "interval"), o.kind
        else:
            assert o.phase == END and callable(impl), o.kind
            assert isinstance(impl({"metrics": {}, "veza_ray": {}}), str), o.kind
        if not o.via_out:
            assert param_name(o) in {p.name for p in _command().params}, o.flag
    assert {o.flag: o.job_file for o in OUTPUTS if o.is_file} == COLLECTABLE
