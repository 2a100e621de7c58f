"""Parsing the live Serve config once into Ray's `ServeDeploySchema` and the gateway's policy: dumping it back gives
exactly what was read (so writing an unchanged config changes nothing Ray could see), and what a rollout edits is
all that changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deployments.app_config import version_app
from rollout.adapters.routers.serve_rest import config_from_details
from rollout.errors import InvalidGatewayPolicyError, InvalidServeConfigError
from rollout.live_config import live_config_dict, parse_app, parse_live_config
from rollout.serve_edits import with_version, with_weights
from tests.unit.rollout.serve_fakes import FakeDashboard

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def shipped() -> dict:
    return yaml.safe_load(SERVE_YAML.read_text())


def dashboard_details(config: dict) -> dict:
    """`GET /api/serve/applications/` after `serve deploy` of `config`, as Ray answers: the proxy options in full,
    each app's `deployed_app_config` with only the fields the config set."""
    http_options = {"root_path": "", "request_timeout_s": None, "keep_alive_timeout_s": 90, **config["http_options"]}
    http_options |= {"ssl_keyfile": None, "ssl_certfile": None, "ssl_keyfile_password": None, "ssl_ca_certs": None}
    grpc_options = {"port": 9000, "grpc_servicer_functions": [], "request_timeout_s": None, "enable_reflection": True}
    apps = {
        app["name"]: {"name": app["name"], "status": "RUNNING", "last_deployed_time_s": 1.0, "deployed_app_config": app}
        for app in config["applications"]
    }
    return {
        "proxy_location": config["proxy_location"],
        "http_options": http_options,
        "grpc_options": grpc_options,
        "target_capacity": None,
        "applications": apps,
    }


def identical(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(shipped(), id="configs/serve.yaml"),
        pytest.param(config_from_details(dashboard_details(shipped())), id="dashboard after deploying it"),
        pytest.param(config_from_details(FakeDashboard().details()), id="the REST router tests' dashboard"),
    ],
)
def test_parse_then_dump_is_identity(raw: dict) -> None:
    dumped = live_config_dict(parse_live_config(raw))

    assert dumped == raw
    assert identical(dumped, raw)  # not even 30 -> 30.0: an unchanged user_config is not re-dumped


def without_gateway_user_config(config: dict) -> dict:
    config = json.loads(json.dumps(config))
    config["applications"][0]["deployments"][0].pop("user_config")
    return config


def test_a_rollout_changes_the_gateways_user_config_and_adds_the_version_app_nothing_else() -> None:
    raw = config_from_details(dashboard_details(shipped()))
    candidate = version_app("iris", "2")

    listed = with_version(parse_live_config(raw), "iris", "2", parse_app(candidate))
    edited = live_config_dict(with_weights(listed, "iris", {"1": 90, "2": 10}))

    expected = {**raw, "applications": [*raw["applications"], candidate]}
    assert identical(without_gateway_user_config(edited), without_gateway_user_config(expected))
    user_config = edited["applications"][0]["deployments"][0]["user_config"]
    before = raw["applications"][0]["deployments"][0]["user_config"]
    assert {**user_config, "models": None} == {**before, "models": None}
    assert parse_live_config(edited).weights("iris") == {"1": 90, "2": 10}


def test_a_config_ray_rejects_is_named() -> None:
    with pytest.raises(InvalidServeConfigError) as caught:
        parse_live_config({"applications": [{"name": "a", "route_prefix": "/"}]})
    assert str(caught.value) == "Serve config is invalid: applications.0.import_path: Field required"


def test_a_live_gateway_policy_the_gateway_rejects_is_named() -> None:
    raw = shipped()
    raw["applications"][0]["deployments"][0]["user_config"] = {"models": {"iris": {"versions": []}}}
    with pytest.raises(InvalidGatewayPolicyError) as caught:
        parse_live_config(raw)
    assert str(caught.value).startswith("Gateway user_config is invalid: models.iris.versions: ")
