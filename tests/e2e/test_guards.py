"""Guard rails: refused hosts, the pre-flight health check, and secrets kept out of output."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from servers import KnownServer, veza, write_script

from veza_ray.emulator import EmulatorConfig, EmulatorThread

FLOW = """
from veza_ray import env
options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 3}}}
async def default(vu):
    await vu.http.get(env("BASE_URL") + "/api/v1/tracks")
"""


@pytest.mark.parametrize("host", ["staging.veza.fr", "haproxy.lxd", "api.example.invalid"])
def test_non_loopback_base_url_is_refused(tmp_path: Path, host: str) -> None:
    res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL=https://{host}")
    assert res.returncode == 104
    assert host in res.stderr and "--allow-host" in res.stderr
    assert res.stdout == ""


def test_allow_host_lifts_the_refusal_up_to_preflight(tmp_path: Path) -> None:
    # Allowed, so the guard passes; the pre-flight then fails on DNS (.invalid never resolves)
    res = veza(
        "run",
        write_script(tmp_path, FLOW),
        "-e",
        "BASE_URL=http://staging.veza.invalid",
        "--allow-host",
        "staging.veza.invalid",
    )
    assert res.returncode == 108, res.stderr
    assert "pre-flight health check failed" in res.stderr


def test_preflight_failure_sends_nothing_else(tmp_path: Path) -> None:
    with EmulatorThread(EmulatorConfig(fail_health=True)) as emu:
        res = veza("run", write_script(tmp_path, FLOW), "-e", f"BASE_URL={emu.base_url}")
        with urllib.request.urlopen(emu.base_url + "/__stats") as resp:
            stats = json.loads(resp.read())
    assert res.returncode == 108, res.stderr
    assert "pre-flight health check failed" in res.stderr and "503" in res.stderr
    assert stats["total"] == 0


def test_preflight_connection_refused(tmp_path: Path) -> None:
    res = veza("run", write_script(tmp_path, FLOW), "-e", "BASE_URL=http://127.0.0.1:1")
    assert res.returncode == 108
    assert "pre-flight health check failed" in res.stderr


@pytest.mark.ray
def test_secrets_never_reach_output(tmp_path: Path, known_server: KnownServer) -> None:
    secret = "s3cr3t-token-value-123"
    script = write_script(
        tmp_path,
        """
        from veza_ray import env
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 2}}}
        async def default(vu):
            await vu.http.get(env("URL") + "/fast",
                              headers={"Authorization": "Bearer " + env("USER_TOKEN")})
            print("calling with token", env("USER_TOKEN"), "and key", env("API_KEY"))
            raise RuntimeError("Authorization: Bearer " + env("USER_TOKEN"))
        """,
    )
    out = tmp_path / "summary.json"
    res = veza(
        "run",
        script,
        "--actors",
        "1",
        "-e",
        f"URL={known_server.url}",
        "-e",
        f"USER_TOKEN={secret}",
        "-e",
        "API_KEY=another-secret-999",
        "--summary-export",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr + out.read_text()
    assert secret not in text
    assert "another-secret-999" not in text
    assert "***" in json.dumps(json.loads(out.read_text())["veza_ray"]["errors"])
    assert known_server.counts["fast"] == 2
