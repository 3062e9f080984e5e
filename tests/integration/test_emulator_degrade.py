"""The emulator's slow and flaky routes (emulator/degrade.py): parsing, validation, the
factor each route gets and the share of 503s it draws; then served for real."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from veza_ray.emulator import EmulatorConfig, EmulatorThread
from veza_ray.emulator.degrade import Degrader, parse_factors


def test_parse_and_validate() -> None:
    assert parse_factors("browse=1.3, checkout=2", "X") == (("browse", 1.3), ("checkout", 2.0))
    assert parse_factors("", "X") == ()
    with pytest.raises(ValueError, match="'browse': write NAME=NUMBER"):
        parse_factors("browse", "VEZA_EMULATOR_SLOW")
    with pytest.raises(ValueError, match="'browse=fast': write NAME=NUMBER"):
        parse_factors("browse=fast", "VEZA_EMULATOR_SLOW")
    with pytest.raises(ValueError, match="'nope' is not a flow"):
        EmulatorConfig(slow=(("nope", 2.0),))
    with pytest.raises(ValueError, match=r"slow browse=0\.0 must be within"):
        EmulatorConfig(slow=(("browse", 0.0),))
    with pytest.raises(ValueError, match=r"flaky search=1\.5 must be within \[0, 1\]"):
        EmulatorConfig(flaky=(("search", 1.5),))
    cfg = EmulatorConfig.from_env(
        {"VEZA_EMULATOR_SLOW": "browse=1.3", "VEZA_EMULATOR_FLAKY": "order_create=0.1"},
        profile="heavy",
    )
    assert cfg.slow == (("browse", 1.3),) and cfg.flaky == (("order_create", 0.1),)
    assert cfg.profile == "heavy"


def test_a_flow_names_its_routes_and_a_route_overrides() -> None:
    d = Degrader((("browse", 1.3), ("search", 2.0)), (("checkout", 0.25),), seed=1)
    assert [d.factor(r) for r in ("search", "track_list", "track_detail", "hls_segment")] == [
        2.0,
        1.3,
        1.3,
        1.0,
    ]
    fails = sum(d.fails("order_create") for _ in range(4000))
    assert 900 <= fails <= 1100  # 25 % of 4000, seeded
    assert not any(d.fails("search") for _ in range(100))


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_flaky_route_answers_503_and_the_others_do_not() -> None:
    cfg = EmulatorConfig(profile="none", flaky=(("search", 1.0),))
    with EmulatorThread(cfg) as emu:
        assert _get(f"{emu.base_url}/api/v1/search?q=rock") == 503
        assert _get(f"{emu.base_url}/api/v1/tracks?page=1") == 200
        with urllib.request.urlopen(f"{emu.base_url}/__stats", timeout=30) as resp:
            stats = json.load(resp)
    assert stats["errors_injected"] == 1
