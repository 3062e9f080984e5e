"""SharedArray, DataFile and k6/execution inside one runner: real sockets, no Ray.

Each test runs a real runner against the local aiohttp target and reads what the flows
recorded, so a wrong counter, a copied array or a row handed out twice fails it.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from servers import KnownServer

from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.engine.runner import Runner, build_runner
from veza_ray.engine.scenario import ScriptError, ScriptOptionsError, load_script


def _runner(
    tmp_path: Path, source: str, env: dict[str, str], actors: int = 1, index: int = 0
) -> Runner:
    path = tmp_path / "scenario.py"
    path.write_text(textwrap.dedent(source))
    script = load_script(str(path), env)
    options = parse_options(script.raw_options)
    plan = make_plan(options.scenarios, actors)
    return build_runner(script, options, plan[index], env, log=lambda m: None)


def _run(runner: Runner) -> None:
    async def main() -> None:
        await runner.run(runner.clock.now())

    asyncio.run(main())


def test_shared_array_is_one_frozen_object_for_every_vu(
    tmp_path: Path, known_server: KnownServer
) -> None:
    (tmp_path / "loads.txt").write_text("")
    runner = _runner(
        tmp_path,
        """
        from veza_ray import SharedArray, env
        calls = []
        def load():
            calls.append(1)
            return [{"name": "a", "tags": ["x"]}, {"name": "b", "tags": []}]
        items = SharedArray("items", load)
        seen = set()
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 4, "iterations": 2}}}
        async def default(vu):
            seen.add(id(items[0]))
            try:
                items[0]["name"] = "changed"
            except TypeError:
                await vu.http.get(env("URL") + "/hit/frozen")
            try:
                items[0]["tags"].append("y")
            except AttributeError:
                await vu.http.get(env("URL") + "/hit/deep")
            await vu.http.get(env("URL") + f"/hit/{items[1]['name']}-{len(items)}-{len(calls)}-{len(seen)}")
        """,
        {"URL": known_server.url},
    )
    _run(runner)
    # 8 iterations, each refused a write at both depths; the loader ran once; one object
    assert known_server.counts["hit:frozen"] == 8
    assert known_server.counts["hit:deep"] == 8
    assert known_server.counts["hit:b-2-1-1"] == 8


def test_instance_counters_and_iteration_numbers(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env, execution, fail
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 2, "iterations": 6}}}
        async def default(vu):
            i, s, v = execution.instance, execution.scenario, execution.vu
            await vu.http.get(env("URL") + (
                f"/hit/{s.iteration_in_test}-{s.iteration_in_instance}-{v.iteration_in_scenario}"
                f"-{i.iterations_completed}-{i.iterations_interrupted}-{i.vus_active}"
                f"-{i.vus_initialized}-{round(s.progress * 6)}-{int(i.current_test_run_duration >= 0)}"
            ))
            if s.iteration_in_test % 2:
                fail("odd")
        """,
        {"URL": known_server.url},
        actors=2,
        index=1,  # the second of 2 actors: 3 of the 6 iterations, numbered 1, 3, 5
    )
    _run(runner)
    # the odd iterations fail(): counted as interrupted, never as completed
    assert {k for k in known_server.counts if k.startswith("hit:")} == {
        "hit:1-0-0-0-0-1-1-0-1",
        "hit:3-1-1-0-1-1-1-2-1",
        "hit:5-2-2-0-2-1-1-4-1",
    }
    assert (runner.completed, runner.interrupted) == (0, 3)


def test_data_file_per_vu_stop_retires_only_the_vus_without_a_row(
    tmp_path: Path, known_server: KnownServer
) -> None:
    (tmp_path / "u.csv").write_text("id\nu0\nu1\nu2\n")
    runner = _runner(
        tmp_path,
        """
        from veza_ray import DataFile, env, execution
        users = DataFile("u.csv", split="per-vu")
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 5, "iterations": 2}}}
        async def default(vu):
            await vu.http.get(env("URL") + f"/hit/{users.row()['id']}-{execution.vu.id_in_test}")
        """,
        {"URL": known_server.url},
    )
    _run(runner)
    hits = {k: v for k, v in known_server.counts.items() if k.startswith("hit:")}
    assert hits == {"hit:u0-1": 2, "hit:u1-2": 2, "hit:u2-3": 2}
    use = runner.snapshot()["data"]["u.csv"]
    assert (use["used"], use["uses"], use["exhausted"]) == (3, 6, True)
    assert runner.interrupted == 2  # VUs 4 and 5 found no row, once each, and stopped


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (
            'DataFile("u.csv", split="per-row")',
            "split='per-row': choose one of per-vu, per-iteration",
        ),
        (
            'DataFile("u.csv", on_exhausted="wrap")',
            "on_exhausted='wrap': choose one of stop, cycle",
        ),
        ('DataFile("empty.csv")', "has no data rows"),
        ('DataFile("bad.jsonl")', "bad.jsonl:2: not JSON"),
        ('DataFile("u.txt")', "a data file is .csv or .jsonl/.ndjson"),
        ('DataFile("u.csv"); DataFile("other/u.csv")', "two data files are named 'u.csv'"),
    ],
)
def test_bad_data_files_are_refused_by_name(tmp_path: Path, call: str, problem: str) -> None:
    (tmp_path / "u.csv").write_text("id\nu0\n")
    (tmp_path / "u.txt").write_text("id\nu0\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "u.csv").write_text("id\nu0\n")
    (tmp_path / "empty.csv").write_text("id\n")
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n{not json\n')
    path = tmp_path / "s.py"
    path.write_text(f"from veza_ray import DataFile\n{call}\n")
    with pytest.raises(ScriptOptionsError) as info:
        load_script(str(path), {})
    assert any(problem in e for e in info.value.errors), info.value.errors


def test_a_missing_data_file_is_a_script_error(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text('from veza_ray import DataFile\nDataFile("nowhere.csv")\n')
    with pytest.raises(ScriptError, match=r"nowhere\.csv"):
        load_script(str(path), {})


def test_a_data_file_is_an_input_of_the_run(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("id\nu0\n")
    path = tmp_path / "s.py"
    path.write_text('from veza_ray import DataFile\nusers = DataFile("u.csv")\n')
    script = load_script(str(path), {})
    assert script.inputs == [("a data file the scenario reads (DataFile)", str(tmp_path / "u.csv"))]


def test_tags_and_env_layers_as_k6(tmp_path: Path, known_server: KnownServer) -> None:
    """k6 v1.1.0 on the same options: scenario tags over the top-level ones, a call's own
    tags over both, the scenario's env over -e (checked with ``k6 run --out json``)."""
    runner = _runner(
        tmp_path,
        """
        from veza_ray import Counter, check, env
        hits = Counter("hits")
        options = {
            "tags": {"a": "1", "b": "g"},
            "scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 2,
                                "tags": {"a": "2"}, "env": {"X": "scen"}}},
        }
        async def default(vu):
            check(1, {"x": lambda v: True}, {"b": "c"})
            hits.add(1)
            await vu.http.get(env("URL") + f"/hit/{env('X')}")
        """,
        {"URL": known_server.url, "X": "cli"},
    )
    _run(runner)
    assert known_server.counts["hit:scen"] == 2
    tags = {w["m"]: {k: v for k, v in w["t"]} for w in runner.store.drain()}
    assert {k: tags["checks"][k] for k in ("a", "b", "scenario")} == {
        "a": "2",
        "b": "c",
        "scenario": "s",
    }
    for name in ("hits", "http_reqs", "iterations", "http_req_duration"):
        assert (tags[name]["a"], tags[name]["b"]) == ("2", "g"), name
