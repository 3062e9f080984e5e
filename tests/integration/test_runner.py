"""The runner against a real aiohttp server on 127.0.0.1: no Ray, real sockets."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from servers import KnownServer

from veza_ray.core.metrics import MetricStore
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.engine.runner import Runner, build_runner
from veza_ray.engine.scenario import load_script


def _runner(
    tmp_path: Path, source: str, env: dict[str, str], actors: int = 1, index: int = 0
) -> Runner:
    path = tmp_path / "scenario.py"
    path.write_text(textwrap.dedent(source))
    script = load_script(str(path), env)
    options = parse_options(script.raw_options)
    plan = make_plan(options.scenarios, actors)
    return build_runner(script, options, plan[index], env, log=lambda m: None)


def _run(runner: Runner, behind: float = 0.0) -> MetricStore:
    """Run to the end and merge every delta the way the driver does.

    The runner starts on time by the test's word (``late=False``), not by how soon this
    box got to it; ``behind`` starts its timeline that many seconds in the past, as a
    paused machine would.
    """

    async def main() -> MetricStore:
        merged = MetricStore(runner.store.defs)
        start_at = runner.clock.now() - behind
        task = asyncio.create_task(runner.run(start_at, late=False))
        while not task.done():
            await asyncio.sleep(0.2)
            merged.merge_wire(runner.snapshot()["series"])
        await task
        merged.merge_wire(runner.snapshot()["series"])
        return merged

    return asyncio.run(main())


def _count(store: MetricStore, name: str, **tags: str) -> float:
    sink = store.aggregate(name, tuple(sorted(tags.items())))
    if sink is None:
        return 0.0
    vals = sink.values(1.0)
    return vals.get("count", vals.get("passes", 0.0) + vals.get("fails", 0.0))


def test_shared_iterations_counts_match_server(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import check, env
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 5, "iterations": 57}}}
        async def default(vu):
            r = await vu.http.get(env("URL") + "/fast", tags={"name": "fast"})
            check(r, {"200": lambda r: r.status == 200})
        """,
        {"URL": known_server.url},
    )
    store = _run(runner)
    assert known_server.counts["fast"] == 57
    assert _count(store, "http_reqs") == 57
    assert _count(store, "iterations") == 57
    assert _count(store, "checks") == 57
    dur = store.aggregate("http_req_duration", (("name", "fast"),))
    assert dur is not None
    vals = dur.values(1.0, ("min", "p(95)"))
    assert 10.0 <= vals["min"] < 200.0


def test_failures_are_status_zero_with_k6_codes(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 1, "iterations": 1}}}
        SEEN = {}
        async def default(vu):
            base = env("URL")
            SEEN["refused"] = await vu.http.get("http://127.0.0.1:1/x", tags={"name": "refused"})
            SEEN["timeout"] = await vu.http.get(base + "/hang", timeout=0.3, tags={"name": "hang"})
            SEEN["reset"] = await vu.http.get(base + "/reset", tags={"name": "reset"})
            SEEN["garbage"] = await vu.http.get(env("RAW") + "/", tags={"name": "garbage"})
            SEEN["huge"] = await vu.http.get(base + "/huge", tags={"name": "huge"}, response_body=False)
            SEEN["404"] = await vu.http.get(base + "/status/404", tags={"name": "s404"})
            SEEN["404ok"] = await vu.http.get(
                base + "/status/404", tags={"name": "s404ok"}, expected_statuses={404})
        """,
        {"URL": known_server.url, "RAW": f"http://127.0.0.1:{known_server.raw_port}"},
    )
    store = _run(runner)
    mod = runner.scenarios[0].flow.__globals__["SEEN"]
    assert (mod["refused"].status, mod["refused"].error_code) == (0, 1212)
    assert (mod["timeout"].status, mod["timeout"].error_code) == (0, 1050)
    assert mod["reset"].status == 0 and mod["reset"].error_code in (1220, 1000)
    assert mod["garbage"].status == 0 and mod["garbage"].error_code == 1000
    assert mod["huge"].status == 200 and mod["huge"].body is None
    assert mod["404"].status == 404
    failed = store.aggregate("http_req_failed")
    assert failed is not None
    vals = failed.values(1.0)
    # refused, timeout, reset, garbage and the unexpected 404 failed; huge and 404-expected did not
    assert (vals["passes"], vals["fails"]) == (5, 2)
    recv = store.aggregate("data_received")
    assert recv is not None and recv.values(1.0)["count"] >= 50 * 1024 * 1024
    err_series = [
        tags for (n, tags) in store.series if n == "http_reqs" and ("error_code", "1212") in tags
    ]
    assert err_series and ("status", "0") in err_series[0]


def test_flow_exception_counts_and_run_continues(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 2, "iterations": 5}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast")
            if vu.iteration % 2 == 0:
                raise RuntimeError("boom")
        """,
        {"URL": known_server.url},
    )
    errors: dict[str, int] = {}

    async def main() -> None:
        task = asyncio.create_task(runner.run(runner.clock.now()))
        while not task.done():
            await asyncio.sleep(0.1)
            for k, v in runner.snapshot()["errors"].items():
                errors[k] = errors.get(k, 0) + v
        for k, v in runner.snapshot()["errors"].items():
            errors[k] = errors.get(k, 0) + v

    asyncio.run(main())
    assert known_server.counts["fast"] == 10
    assert list(errors.values()) == [6]
    assert "RuntimeError: boom" in next(iter(errors))


@pytest.mark.parametrize("behind", [0.0, 1.0])
def test_constant_arrival_rate_is_exact_over_segments(
    tmp_path: Path, known_server: KnownServer, behind: float
) -> None:
    """Every planned start is accounted for, also when the runner begins a second after
    its start time (a busy box): once judged late from the clock, a runner skipped the
    starts more than 0.5 s past, counting them nowhere, and this test flaked under load.
    """
    source = """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 30,
                   "timeUnit": "1s", "duration": "2s", "preAllocatedVUs": 6}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast")
        """
    accounted, done = [], 0.0
    for i in range(3):
        runner = _runner(tmp_path, source, {"URL": known_server.url}, actors=3, index=i)
        store = _run(runner, behind)
        # Every planned start is started, dropped (no free VU) or undelivered (the run
        # ended before a late start): the plan is exact whatever the machine's load.
        started = _count(store, "iterations")
        dropped = _count(store, "dropped_iterations")
        accounted.append(started + dropped + runner.scenarios[0].undelivered)
        done += started
    # k6 truncates the period to 33333333 ns, so 2 s hold 61 starts (the last at
    # 1.99999998 s); real k6 v1.1.0 ran 61 iterations for this scenario, three runs of three
    assert accounted == [21, 20, 20]
    assert known_server.counts["fast"] == done > 0


def test_dropped_iterations_when_no_vu_is_free(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 20,
                   "timeUnit": "1s", "duration": "1s", "preAllocatedVUs": 1, "maxVUs": 1}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/slow")
        """,
        {"URL": known_server.url},
    )
    store = _run(runner)
    done = _count(store, "iterations")
    dropped = _count(store, "dropped_iterations")
    assert done + dropped == 20
    # One VU, each iteration held 200 ms by the server: at most 1 s / 200 ms + 1 start in
    # the second, at least the first; every one done was served (gracefulStop 30 s)
    assert 1 <= done <= 6
    assert known_server.counts["slow"] == done


def test_graceful_stop_interrupts_long_iterations(
    tmp_path: Path, known_server: KnownServer
) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "0.5s",
                   "gracefulStop": "0.2s"}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/hang")
        """,
        {"URL": known_server.url},
    )
    store = _run(runner)
    # Each VU starts one iteration that never ends (on a busy machine its request may not
    # have reached the server yet): all are interrupted at 0.5 s + 0.2 s, none counted.
    assert known_server.counts["hang"] <= 2
    assert _count(store, "iterations") == 0
    assert _count(store, "http_reqs") == 0


def test_requests_to_unallowed_hosts_are_blocked(tmp_path: Path, known_server: KnownServer) -> None:
    runner = _runner(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 1, "iterations": 2}}}
        SEEN = []
        async def default(vu):
            SEEN.append(await vu.http.get("http://staging.veza.invalid/x", tags={"name": "blocked"}))
            await vu.http.get(env("URL") + "/fast")
        """,
        {"URL": known_server.url},
    )
    store = _run(runner)
    seen = runner.scenarios[0].flow.__globals__["SEEN"]
    assert [(r.status, r.error_code) for r in seen] == [(0, 1111), (0, 1111)]
    assert "--allow-host" in seen[0].error
    assert known_server.counts["fast"] == 2
    failed = store.aggregate("http_req_failed", (("name", "blocked"),))
    assert failed is not None and failed.values(1.0)["passes"] == 2
