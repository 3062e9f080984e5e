"""`veza-ray submit` before any cluster: the result frame, the job plan, bad input.

No Ray cluster here: everything that decides 104/107 runs before a connection, and the
frame and plan are pure. The end-to-end runs are in tests/e2e/test_jobs_e2e.py.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from veza_ray.cli import app
from veza_ray.cluster.jobs import plan_job
from veza_ray.core.jobframe import (
    ENV_VAR,
    FRAME_BEGIN,
    FRAME_END,
    LINE_WIDTH,
    FrameError,
    FrameFilter,
    JobResult,
    decode_frame,
    encode_frame,
    secret_env_args,
)
from veza_ray.core.runconfig import RunConfig, from_params
from veza_ray.jobrun import extract, output_args, parse_argv

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "scenarios" / "smoke.py")


def _run_command() -> Any:
    return typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]


def _config(args: list[str]) -> RunConfig:
    """`submit`'s arguments through `run`'s parser, as cli.submit reads them."""
    return from_params(_run_command().make_context("veza-ray submit", args).params)


# -- the frame ---------------------------------------------------------------------------


def test_frame_round_trip_with_large_binary_safe_files() -> None:
    files = {"--summary-export": b'{"metrics": {}}', "--html": ("<p>é</p>" * 5000).encode()}
    lines = encode_frame(JobResult(99, files))
    assert lines[0] == FRAME_BEGIN and lines[-1] == FRAME_END
    assert all(len(line) <= LINE_WIDTH for line in lines)
    log = "progress\n" + "\n".join(lines) + "\n"
    assert decode_frame(log) == JobResult(99, files)


def test_the_last_frame_wins_and_a_missing_or_damaged_one_is_an_error() -> None:
    first = "\n".join(encode_frame(JobResult(1, {})))
    last = "\n".join(encode_frame(JobResult(0, {"--junit": b"<x/>"})))
    assert decode_frame(f"{first}\nmore\n{last}\n") == JobResult(0, {"--junit": b"<x/>"})
    with pytest.raises(FrameError, match="no veza-ray result frame"):
        decode_frame("just a log\n")
    with pytest.raises(FrameError, match="damaged"):
        decode_frame(f"{FRAME_BEGIN}\nnot base64!\n{FRAME_END}\n")


def test_filter_cuts_the_frame_out_of_arbitrarily_split_chunks() -> None:
    frame = "\n".join(encode_frame(JobResult(0, {"--html": b"x" * 20000})))
    log = f"line one\n[ 1.0s/5s] browse: 1/1 VUs\n{frame}\ntail line\nno newline"
    for size in (1, 7, 100, 5000, len(log)):
        ff = FrameFilter()
        shown = "".join(ff.feed(log[i : i + size]) for i in range(0, len(log), size))
        shown += ff.flush()
        assert shown == "line one\n[ 1.0s/5s] browse: 1/1 VUs\ntail line\nno newline"


def test_extract_writes_the_files_of_a_log_read_elsewhere(tmp_path: Path) -> None:
    files = {"--summary-export": b"{}", "--junit": b"<testsuites/>"}
    log = "ray job submit output\n" + "\n".join(encode_frame(JobResult(99, files))) + "\n"
    assert extract(log, str(tmp_path / "out")) == 99
    assert (tmp_path / "out" / "summary.json").read_bytes() == b"{}"
    assert (tmp_path / "out" / "junit.xml").read_bytes() == b"<testsuites/>"
    assert extract("no frame here\n", str(tmp_path / "none")) == 111
    assert not (tmp_path / "none").exists()


# -- the wrapper's arguments ---------------------------------------------------------------


def test_wrapper_argv_and_output_paths(tmp_path: Path) -> None:
    collect, run_argv = parse_argv(
        ["--collect", "--html", "--collect", "--out json=", "--", "run", "s.py", "-q"]
    )
    assert collect == ["--html", "--out json="]
    assert run_argv == ["run", "s.py", "-q"]
    args, paths = output_args(collect, str(tmp_path))
    assert args == [
        "--html",
        str(tmp_path / "report.html"),
        "--out",
        f"json={tmp_path / 'metrics.ndjson'}",
    ]
    assert paths == {
        "--html": str(tmp_path / "report.html"),
        "--out json=": str(tmp_path / "metrics.ndjson"),
    }
    with pytest.raises(ValueError, match="usage"):
        parse_argv(["--collect", "--html", "s.py"])
    with pytest.raises(ValueError, match="cannot collect"):
        output_args(["--bogus"], str(tmp_path))


def test_secret_env_arrives_as_e_arguments() -> None:
    assert secret_env_args(json.dumps(["USER_TOKEN=abc=d"])) == ["-e", "USER_TOKEN=abc=d"]
    assert secret_env_args(None) == []
    with pytest.raises(ValueError, match=ENV_VAR):
        secret_env_args('{"USER_TOKEN": "x"}')


# -- the job plan ---------------------------------------------------------------------------


def test_plan_keeps_secrets_off_the_entrypoint_and_collects_the_outputs(tmp_path: Path) -> None:
    cfg = _config(
        [
            SMOKE,
            "-e",
            "BASE_URL=http://127.0.0.1:9",
            "-e",
            "USER_TOKEN=s3cr3t-value",
            "-e",
            "API_KEY=another-one",
            "--summary-export",
            str(tmp_path / "s.json"),
            "--html",
            str(tmp_path / "r.html"),
            "--markdown",
            "-",
            "-o",
            f"json={tmp_path / 'm.ndjson'}",
            "-o",
            "prometheus=http://127.0.0.1:9090/api/v1/write",
            "--actors",
            "3",
            "--quiet",
            "--allow-host",
            "a.lxd",
            "--address",
            "http://head:8265",
        ],
    )
    plan = plan_job(cfg, {"VEZA_RAY_ALLOW_HOSTS": "b.lxd"})
    assert plan.address == "http://head:8265"
    assert plan.working_dir == str(ROOT / "scenarios")
    argv = shlex.split(plan.entrypoint)
    assert argv[:3] == ["python3", "-m", "veza_ray.jobrun"]
    assert "s3cr3t-value" not in plan.entrypoint and "another-one" not in plan.entrypoint
    assert json.loads(plan.env_vars[ENV_VAR]) == ["USER_TOKEN=s3cr3t-value", "API_KEY=another-one"]
    assert plan.env_vars["VEZA_RAY_ALLOW_HOSTS"] == "b.lxd"
    assert int(plan.env_vars["RAY_JOB_STOP_WAIT_TIME_S"]) >= 30
    run_at = argv.index("--")
    assert argv[run_at + 1 : run_at + 3] == ["run", "smoke.py"]
    run_args = argv[run_at + 3 :]
    # local paths never travel: the wrapper collects these flags into its own temp dir
    assert str(tmp_path) not in plan.entrypoint
    assert argv[3:run_at] == [  # in the order of the output table (core/output_kinds)
        "--collect",
        "--summary-export",
        "--collect",
        "--out json=",
        "--collect",
        "--html",
    ]
    assert plan.outputs == {
        "--summary-export": str(tmp_path / "s.json"),
        "--html": str(tmp_path / "r.html"),
        "--out json=": str(tmp_path / "m.ndjson"),
    }
    # the rest goes on as run reads it; the dashboard address is submit's, not the run's
    for flag in (
        ["-e", "BASE_URL=http://127.0.0.1:9"],
        ["--markdown", "-"],
        ["--out", "prometheus=http://127.0.0.1:9090/api/v1/write"],
        ["--actors", "3"],
        ["--allow-host", "a.lxd"],
    ):
        assert flag in [run_args[i : i + len(flag)] for i in range(len(run_args))], flag
    assert "--quiet" in run_args
    assert "--address" not in run_args
    assert "--log-interval" not in run_args  # defaults are not repeated


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["/nonexistent/scenario.py"], 107, "cannot read scenario file"),
        ([SMOKE, "--bogus"], 104, "No such option"),
        ([SMOKE, "--summary-export", "/nonexistent/dir/s.json"], 104, "does not exist"),
        ([SMOKE, "--html", "/nonexistent/dir/r.html"], 104, "--html"),
        ([SMOKE, "-e", "NOVALUE"], 104, "NAME=VALUE"),
        ([SMOKE, "-e", "BASE_URL=http://staging.example.com"], 104, "refusing to send load"),
        ([SMOKE, "--spread", "wide"], 104, "--spread"),
        ([SMOKE, "--merge-tree", "always"], 104, "--merge-tree"),
        ([SMOKE, "--address", "10.0.0.1:6379"], 104, "http://HEAD:8265"),
        ([SMOKE, "--address", "ray://10.0.0.1:10001"], 104, "Ray Jobs API"),
        ([SMOKE, "-o", "csv=x"], 104, "json=PATH"),
    ],
)
def test_bad_input_is_refused_before_any_connection(
    args: list[str], code: int, message: str
) -> None:
    res = CliRunner().invoke(app, ["submit", *args])
    assert res.exit_code == code, res.output
    assert message in res.output


def test_the_job_parses_back_the_configuration_submit_checked(tmp_path: Path) -> None:
    """What `submit` dropped before: spread, merge tree, actors per node, secret names,
    and --actors as a count; the job's `run` now reads the same RunConfig."""
    cfg = _config(
        [
            SMOKE,
            "-e",
            "BASE_URL=http://127.0.0.1:9",
            "-e",
            "SESSION=hush-hush-value",
            "--secret",
            "SESSION",
            "--spread",
            "strict",
            "--merge-tree",
            "on",
            "--actors-per-node",
            "2",
            "--replace-lost",
            "--allow-output-loss",
            "--no-preflight",
            "--summary-trend-stats",
            "avg,p(99)",
            "--junit",
            str(tmp_path / "j.xml"),
        ]
    )
    assert cfg.actors_per_node == 2 and cfg.spread == "strict" and cfg.merge_tree == "on"
    plan = plan_job(cfg, {})
    argv = shlex.split(plan.entrypoint)
    collect, run_argv = parse_argv(argv[3:])
    assert collect == ["--junit"] and "hush-hush-value" not in plan.entrypoint
    hidden = secret_env_args(plan.env_vars[ENV_VAR])
    extra, _paths = output_args(collect, "/job/tmp")
    job = _config([*run_argv[1:], *extra, *hidden])
    expected = RunConfig(
        **{
            **cfg.__dict__,
            "script_path": "smoke.py",
            "outputs": {"junit": "/job/tmp/junit.xml"},
            "env_overrides": {"BASE_URL": "http://127.0.0.1:9", "SESSION": "hush-hush-value"},
        }
    )
    assert job == expected
    count = _config([SMOKE, "--actors", "3"])
    assert count.actors == 3 and isinstance(count.actors, int)
