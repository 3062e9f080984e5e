"""The ported gate's flows in one runner (no Ray) against the emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

from veza_ray.core.metrics import MetricStore
from veza_ray.core.options import parse_options
from veza_ray.core.plan import make_plan
from veza_ray.emulator import EmulatorThread
from veza_ray.engine.runner import build_runner
from veza_ray.engine.scenario import load_script

SCENARIO = str(Path(__file__).resolve().parents[2] / "scenarios" / "veza_mixed.py")


def _run_gate(env: dict[str, str]) -> tuple[MetricStore, dict[str, int]]:
    script = load_script(SCENARIO, env)
    options = parse_options(script.raw_options)
    runner = build_runner(
        script, options, make_plan(options.scenarios, 1)[0], env, log=lambda m: None
    )
    errors: dict[str, int] = {}

    async def main() -> MetricStore:
        merged = MetricStore(runner.store.defs)
        task = asyncio.create_task(runner.run(runner.clock.now()))
        while not task.done():
            await asyncio.sleep(0.2)
            snap = runner.snapshot()
            merged.merge_wire(snap["series"])
            for k, v in snap["errors"].items():
                errors[k] = errors.get(k, 0) + v
        await task
        merged.merge_wire(runner.snapshot()["series"])
        return merged

    return asyncio.run(main()), errors


def _count(store: MetricStore, metric: str, **tags: str) -> float:
    sink = store.aggregate(metric, tuple(sorted(tags.items())))
    return 0.0 if sink is None else sink.values(1.0).get("count", 0.0)


def test_without_user_token_auth_failures_are_counted_401s_not_crashes() -> None:
    with EmulatorThread() as emu:
        env = {
            "BASE_URL": emu.base_url,
            "DURATION": "2s",
            "UPLOAD_VUS": "1",
            "STREAM_VUS": "1",
            "BROWSE_VUS": "1",
            "CHECKOUT_VUS": "1",
            "USER_TOKEN": "",
            "SUMMARY_PATH": "/dev/null",
        }
        store, errors = _run_gate(env)
    assert errors == {}  # no flow raised
    assert _count(store, "http_reqs", name="upload_initiate", status="401") >= 1
    assert _count(store, "http_reqs", name="checkout_list", status="401") >= 1
    assert _count(store, "http_reqs", name="upload_chunk") == 0  # the flow stops at init
    upload_errors = store.aggregate("upload_errors")
    assert upload_errors is not None and upload_errors.values(1.0)["rate"] == 1.0
    assert _count(store, "http_reqs", name="hls_segment", status="200") >= 4  # public
