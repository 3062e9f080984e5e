"""The run's settings reach the actors in their own configuration, not in the scenario's
env() dict, where a script could read or overwrite them."""

from __future__ import annotations

from pathlib import Path

import pytest

from veza_ray.cluster.driver import RunConfig, _actor_args, prepare
from veza_ray.core.plan import make_plan

SCRIPT = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 1}}}
async def default(vu):
    pass
"""


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "scenario.py"
    path.write_text(SCRIPT)
    return str(path)


def test_allow_host_and_secret_names_travel_beside_the_env(
    script: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEZA_RAY_ALLOW_HOSTS", raising=False)
    monkeypatch.delenv("VEZA_RAY_SECRETS", raising=False)
    cfg = RunConfig(
        script_path=script,
        env_overrides={"BASE_URL": "http://staging.example.test", "NAMED": "a-named-value-1"},
        allow_hosts=["Staging.Example.Test"],
        secret_names=["NAMED"],
    )
    prep = prepare(cfg)  # (the secret book is process-wide: the value is a test's own)
    assert "VEZA_RAY_ALLOW_HOSTS" not in prep.env
    assert "VEZA_RAY_SECRETS" not in prep.env
    segs = make_plan(prep.options.scenarios, 1)[0]
    args = _actor_args(prep, cfg, 0, segs)
    env, settings = args[3], args[6]
    assert env is prep.env
    assert settings["allowed_hosts"] == ["staging.example.test"]
    assert "NAMED" in settings["secret_names"]
