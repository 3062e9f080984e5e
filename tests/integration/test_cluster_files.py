"""The cluster files are valid: Ray's schema, KubeRay's shape, bash syntax. No cluster starts."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from requires import requires

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_YAML = ROOT / "ray-cluster.yaml"
KUBERAY_YAML = ROOT / "cluster" / "kuberay-raycluster.yaml"
NETNS_SCRIPT = ROOT / "cluster" / "netns-cluster.sh"

HEALTH_KEYS = (
    "health_check_initial_delay_ms",
    "health_check_period_ms",
    "health_check_timeout_ms",
    "health_check_failure_threshold",
)


def _load(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def _ray_schema() -> Any:
    ray = pytest.importorskip("ray")
    schema_path = Path(os.path.dirname(ray.__file__)) / "autoscaler" / "ray-schema.json"
    return json.loads(schema_path.read_text())


def _system_config_in(text: str) -> dict[str, int]:
    match = re.search(r"--system-config='(\{[^']*\})'", text)
    assert match, "no --system-config='{...}' found"
    parsed: dict[str, int] = json.loads(match.group(1))
    return parsed


def _script_default_system_config() -> dict[str, int]:
    match = re.search(r"DEFAULT_SYSTEM_CONFIG='(\{[^']*\})'", NETNS_SCRIPT.read_text())
    assert match, "DEFAULT_SYSTEM_CONFIG not found in netns-cluster.sh"
    parsed: dict[str, int] = json.loads(match.group(1))
    return parsed


# -- ray-cluster.yaml --------------------------------------------------------------------------


def test_launcher_yaml_validates_against_rays_schema() -> None:
    jsonschema.validate(_load(LAUNCHER_YAML), _ray_schema())


def test_launcher_yaml_survives_ray_ups_own_preparation() -> None:
    """`ray up` first fills in the local provider's defaults, then validates: do the same."""
    pytest.importorskip("ray")
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(_load(LAUNCHER_YAML)))
    validate_config(prepared)
    node_type = prepared["available_node_types"][prepared["head_node_type"]]
    workers = len(prepared["provider"]["worker_ips"])
    assert node_type["min_workers"] == node_type["max_workers"] == workers


def test_launcher_yaml_uses_documentation_addresses_and_expected_mounts() -> None:
    config = _load(LAUNCHER_YAML)
    provider = config["provider"]
    assert provider["type"] == "local"
    for ip in [provider["head_ip"], *provider["worker_ips"]]:
        assert ip.startswith("198.51.100."), f"{ip} is not a TEST-NET-2 placeholder"
    assert config["auth"]["ssh_user"]
    assert config["file_mounts"]["~/veza-ray/scenarios"] == "./scenarios"
    assert any("pip install" in c and "veza-ray" in c for c in config["setup_commands"])


def test_launcher_start_commands_use_token_auth_and_the_tuned_health_checks() -> None:
    config = _load(LAUNCHER_YAML)
    head = " ".join(config["head_start_ray_commands"])
    worker = " ".join(config["worker_start_ray_commands"])
    for cmds in (head, worker):
        assert "RAY_AUTH_MODE=token" in cmds
        assert "ray start" in cmds
    assert "--head" in head and "--port=6379" in head
    assert "--address=$RAY_HEAD_IP:6379" in worker
    # system config is a head-only setting (workers refuse it), the same as the netns cluster's
    assert "--system-config" not in worker
    system_config = _system_config_in(head)
    assert set(system_config) == set(HEALTH_KEYS)
    assert system_config == _script_default_system_config()


def test_health_check_keys_are_known_to_this_ray() -> None:
    """Unknown keys make the GCS abort at start; check ours exist in this Ray's config."""
    pytest.importorskip("ray")
    config = importlib.import_module("ray._raylet").Config
    for key in HEALTH_KEYS:
        assert callable(getattr(config, key, None)), key


# -- KubeRay -----------------------------------------------------------------------------------


def test_kuberay_manifest_shape() -> None:
    docs = [d for d in yaml.safe_load_all(KUBERAY_YAML.read_text()) if d]
    assert len(docs) == 1
    rc = docs[0]
    assert rc["apiVersion"] == "ray.io/v1"
    assert rc["kind"] == "RayCluster"
    assert rc["metadata"]["name"]
    spec = rc["spec"]
    assert spec["rayVersion"] == "2.60.0"

    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert all(isinstance(v, str) for v in head["rayStartParams"].values())
    groups = spec["workerGroupSpecs"]
    assert len(groups) >= 1
    pods = [head["template"]["spec"]] + [g["template"]["spec"] for g in groups]
    for g in groups:
        assert g["groupName"]
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
        assert all(isinstance(v, str) for v in g["rayStartParams"].values())
        cpus = g["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        assert g["rayStartParams"]["num-cpus"] == str(cpus), "one actor per requested core"

    for pod in pods:
        container = pod["containers"][0]
        assert container["image"] == "rayproject/ray:2.60.0-py311"
        assert "veza-ray" in " ".join(container["args"])
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        secret = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert secret["name"] and secret["key"]
        assert container["resources"]["requests"]["cpu"]

    head_env = {e["name"]: e.get("value") for e in pods[0]["containers"][0]["env"]}
    assert {k: int(head_env[f"RAY_{k}"]) for k in HEALTH_KEYS} == _script_default_system_config()


# -- netns-cluster.sh --------------------------------------------------------------------------


def test_netns_script_parses() -> None:
    proc = subprocess.run(["bash", "-n", str(NETNS_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@requires("shellcheck")
def test_netns_script_is_shellcheck_clean() -> None:
    proc = subprocess.run(["shellcheck", str(NETNS_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_netns_script_stays_in_its_reserved_subnet() -> None:
    text = NETNS_SCRIPT.read_text()
    assert "readonly SUBNET=10.231.77" in text
    addresses = set(re.findall(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", text))
    assert all(a.startswith("10.231.77.") for a in addresses), addresses


# -- KubeRay RayJob ----------------------------------------------------------------------------

RAYJOB_YAML = ROOT / "cluster" / "kuberay-rayjob.yaml"
RAYJOB_SCHEMA = ROOT / "tests" / "fixtures" / "kuberay_rayjob_v1_schema.json"


def _closed(schema: Any) -> Any:
    """The schema with unknown fields made errors (the API server would silently drop them)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _rayjob() -> Any:
    docs = [d for d in yaml.safe_load_all(RAYJOB_YAML.read_text()) if d]
    assert len(docs) == 1
    return docs[0]


def test_rayjob_validates_against_kuberays_crd_schema() -> None:
    schema = _closed(json.loads(RAYJOB_SCHEMA.read_text()))
    rayjob = _rayjob()
    jsonschema.validate(rayjob, schema)
    # the schema is not vacuous: a misspelt field and a wrong type are refused
    bad = copy.deepcopy(rayjob)
    bad["spec"]["shutdownAfterJobFinish"] = True
    with pytest.raises(jsonschema.ValidationError, match="shutdownAfterJobFinish"):
        jsonschema.validate(bad, schema)
    bad = copy.deepcopy(rayjob)
    bad["spec"]["backoffLimit"] = "none"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_rayjob_runs_the_gate_through_the_job_wrapper_with_run_options_veza_ray_accepts() -> None:
    import shlex

    import typer

    from veza_ray.cli import app
    from veza_ray.core.jobframe import COLLECTABLE
    from veza_ray.jobrun import parse_argv

    rayjob = _rayjob()
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    spec = rayjob["spec"]
    argv = shlex.split(spec["entrypoint"])
    assert argv[:3] == ["python3", "-m", "veza_ray.jobrun"]
    collect, run_argv = parse_argv(argv[3:])
    assert set(collect) <= set(COLLECTABLE) and "--summary-export" in collect
    run = typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]
    params = run.make_context("run", run_argv[1:]).params
    assert params["script"].endswith("/veza_mixed.py")
    assert params["allow_host"], "a non-loopback BASE_URL needs --allow-host"
    assert spec["backoffLimit"] == 0, "a load test must never be re-run on its own"
    assert spec["shutdownAfterJobFinishes"] is True
    stop_wait = yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]["RAY_JOB_STOP_WAIT_TIME_S"]
    assert int(stop_wait) >= 30
    assert rayjob["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true"


def test_rayjob_cluster_matches_the_raycluster_manifest_and_keeps_secrets_in_secrets() -> None:
    cluster_spec = _rayjob()["spec"]["rayClusterSpec"]
    raycluster = _load(KUBERAY_YAML)["spec"]
    assert cluster_spec["rayVersion"] == raycluster["rayVersion"]
    head = cluster_spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert (
        head["image"] == raycluster["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    )
    env = {e["name"]: e for e in head["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    for name in ("RAY_AUTH_TOKEN", "USER_TOKEN"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] and ref["key"] and "value" not in env[name]
    assert {k: int(env[f"RAY_{k}"]["value"]) for k in HEALTH_KEYS} == (
        _script_default_system_config()
    )
    assert "USER_TOKEN" not in _rayjob()["spec"]["entrypoint"]
    for group in cluster_spec["workerGroupSpecs"]:
        cpus = group["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        assert group["rayStartParams"]["num-cpus"] == str(cpus)


def test_netns_script_refuses_a_bad_dashboard_switch_before_touching_anything() -> None:
    env = {**os.environ, "VZR_DASHBOARD": "yes", "VZR_STATE_DIR": "/nonexistent/vzr-state"}
    proc = subprocess.run(
        ["bash", str(NETNS_SCRIPT), "up", "1"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "VZR_DASHBOARD must be 0 or 1, got 'yes'" in proc.stderr
    assert not Path("/nonexistent/vzr-state").exists()
