"""Loading scenario files: options, flows, custom metrics, env, and every way a file can be wrong.

Pure: small files written to tmp_path; no Ray, no network, no sleeping.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from veza_ray.core.metric_types import BUILTIN_METRICS, MetricDef, MetricType, ValueType
from veza_ray.engine.context import load_context
from veza_ray.engine.scenario import (
    LoadedScript,
    ScriptError,
    ScriptOptionsError,
    check_flows,
    load_script,
)

GOOD = """
from veza_ray.engine.api import Counter, Trend, check, env

BASE = env("BASE_URL", "http://127.0.0.1:8080")
upload_ms = Trend("upload_ms", time=True)
bytes_up = Counter("bytes_up", data=True)

options = {
    "scenarios": {
        "browse": {"executor": "constant-vus", "vus": 2, "duration": "10s", "exec": "browse"},
        "plain": {"executor": "shared-iterations", "vus": 1, "iterations": 1},
    },
    "thresholds": {"http_req_duration": ["p(95)<500"]},
}


async def browse():
    return BASE


async def default():
    return None


def not_async():
    return None


def handle_summary(data):
    return {"stdout": "done"}
"""


def _write(tmp_path: Path, text: str, name: str = "scenario.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


@pytest.fixture
def good(tmp_path: Path) -> LoadedScript:
    return load_script(_write(tmp_path, GOOD), {"BASE_URL": "http://127.0.0.1:9999"})


def test_loads_options_flows_metrics_and_env(good: LoadedScript) -> None:
    assert good.raw_options["scenarios"]["browse"]["exec"] == "browse"
    assert good.raw_options["thresholds"] == {"http_req_duration": ["p(95)<500"]}
    assert good.module.BASE == "http://127.0.0.1:9999"  # module-level env() saw the given env
    assert good.metrics == {
        "upload_ms": MetricDef("upload_ms", MetricType.TREND, ValueType.TIME),
        "bytes_up": MetricDef("bytes_up", MetricType.COUNTER, ValueType.DATA),
    }
    assert good.all_metrics == {**BUILTIN_METRICS, **good.metrics}
    assert good.flow("browse") is good.module.browse
    assert good.flow("nope") is None
    assert good.flow("BASE") is None  # not callable
    assert good.handle_summary is good.module.handle_summary
    assert good.source == textwrap.dedent(GOOD)


def test_env_default_when_not_given(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, GOOD), {})
    assert script.module.BASE == "http://127.0.0.1:8080"


def test_load_context_is_reset_after_load(good: LoadedScript) -> None:
    assert load_context.get() is None


def test_load_from_shipped_source_without_a_file(tmp_path: Path) -> None:
    """Actors get the source text from the driver; the path need not exist on their node."""
    path = str(tmp_path / "elsewhere" / "scenario.py")
    script = load_script(path, {"BASE_URL": "x"}, source=textwrap.dedent(GOOD))
    assert script.module.BASE == "x"
    assert script.path == path


def test_no_options_and_no_handle_summary(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, "async def default():\n    pass\n"), {})
    assert script.raw_options == {}
    assert script.metrics == {}
    assert script.handle_summary is None
    assert check_flows(script, {"default": "default"}) == []


def test_two_loads_are_independent_modules(tmp_path: Path) -> None:
    path = _write(tmp_path, "from veza_ray.engine.api import env\nX = env('X')\nSTATE = []\n")
    a = load_script(path, {"X": "a"})
    b = load_script(path, {"X": "b"})
    assert (a.module.X, b.module.X) == ("a", "b")
    assert a.module is not b.module
    a.module.STATE.append(1)
    assert b.module.STATE == []


def test_helper_module_next_to_the_file_is_importable(tmp_path: Path) -> None:
    (tmp_path / "veza_helpers_for_test.py").write_text("VALUE = 42\n", encoding="utf-8")
    path = _write(tmp_path, "from veza_helpers_for_test import VALUE\n")
    before = list(sys.path)
    try:
        script = load_script(path, {})
        assert script.module.VALUE == 42
        assert sys.path == before  # the folder is taken off sys.path again
    finally:
        sys.modules.pop("veza_helpers_for_test", None)


# --------------------------------------------------------------------------- check_flows


def test_check_flows(good: LoadedScript) -> None:
    assert check_flows(good, {"browse": "browse", "plain": "default"}) == []
    errors = check_flows(good, {"a": "missing", "b": "not_async", "c": "browse"})
    assert len(errors) == 2
    assert errors[0].startswith("scenarios.a.exec: 'missing' names no function")
    assert errors[1].startswith("scenarios.b.exec: 'not_async' must be an async function")


def test_missing_default_flow(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, "async def other():\n    pass\n"), {})
    (error,) = check_flows(script, {"default": "default"})
    assert "scenarios.default.exec" in error
    assert "'default'" in error


# --------------------------------------------------------------------------- errors


def test_syntax_error_is_a_script_error_with_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "options = {}\n\nasync def default(:\n    pass\n")
    with pytest.raises(ScriptError) as info:
        load_script(path, {})
    assert f"{path}:3" in str(info.value)
    assert "syntax error" in str(info.value)
    assert load_context.get() is None


def test_exception_at_import_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "options = {}\nx = 1\nraise RuntimeError('nope')\n")
    with pytest.raises(ScriptError) as info:
        load_script(path, {})
    message = str(info.value)
    assert "RuntimeError: nope" in message
    assert "(line 3)" in message
    assert load_context.get() is None


def test_import_of_missing_module_is_a_script_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "import veza_no_such_module_anywhere\n")
    with pytest.raises(ScriptError, match="ModuleNotFoundError"):
        load_script(path, {})


def test_missing_file_is_a_script_error(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(str(tmp_path / "absent.py"), {})


def test_non_utf8_file_is_a_script_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.py"
    path.write_bytes(b"# caf\xe9\noptions = {}\n")
    with pytest.raises(ScriptError, match="UTF-8"):
        load_script(str(path), {})


def test_metric_redefinition_is_a_script_options_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        from veza_ray.engine.api import Counter, Trend
        a = Trend("latency_ms")
        b = Counter("latency_ms")
        c = Trend("http_req_duration")
        d = Counter("9bad")
        """,
    )
    with pytest.raises(ScriptOptionsError) as info:
        load_script(path, {})
    errors = info.value.errors
    assert len(errors) == 3
    assert "'latency_ms'" in errors[0]
    assert "already defined" in errors[0]
    assert "built-in" in errors[1]
    assert "invalid metric name '9bad'" in errors[2]
    assert str(info.value) == "; ".join(errors)
    assert load_context.get() is None


def test_files_the_scenario_reads_and_imports_are_its_inputs(tmp_path: Path) -> None:
    """k6's open(): text or bytes, relative to the scenario; recorded with local imports."""
    (tmp_path / "users.csv").write_text("alice,bob\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\xff")
    (tmp_path / "helper_for_inputs.py").write_text("N = 2\n")
    script = tmp_path / "s.py"
    script.write_text(
        "import helper_for_inputs\n"
        "from veza_ray import open\n"
        "USERS = open('users.csv').split(',')\n"
        "BLOB = open('blob.bin', 'b')\n"
        "options = {}\n"
        "async def default(vu):\n"
        "    pass\n"
    )
    loaded = load_script(str(script), {})
    assert loaded.module.USERS == ["alice", "bob\n"] and loaded.module.BLOB == b"\x00\xff"
    kinds = dict((path, what) for what, path in loaded.inputs)
    assert kinds[str(tmp_path / "users.csv")].endswith("open()")
    assert kinds[str(tmp_path / "blob.bin")].endswith("open()")
    assert kinds[str(tmp_path / "helper_for_inputs.py")] == "a module the scenario imports"
    assert str(script) not in kinds
    sys.modules.pop("helper_for_inputs", None)
    from veza_ray.engine.api import open as read_file

    with pytest.raises(RuntimeError, match="while the scenario file loads"):
        read_file("users.csv")
