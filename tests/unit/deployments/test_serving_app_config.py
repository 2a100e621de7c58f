"""The app-config builder is where the apps' names and import paths live: `configs/serve.yaml` is what it builds,
and its import paths and deployment names are the code's."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from deployments import app_config
from deployments.traffic_policy import GatewayConfig

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def options(app: dict) -> dict:
    """What a config sets for an app's one deployment, beside its name (and, for the gateway, its policy)."""
    [deployment] = app["deployments"]
    return {key: value for key, value in deployment.items() if key not in ("name", "user_config")}


def test_serve_yaml_apps_are_what_the_builder_makes_for_its_policy() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    gateway, *versions = config["applications"]
    policy = GatewayConfig.model_validate(gateway["deployments"][0]["user_config"])

    assert gateway == app_config.gateway_app(policy, deployment=options(gateway))
    routes = [(model, route) for model, model_policy in policy.models.items() for route in model_policy.versions]
    assert [app["name"] for app in versions] == [route.app for _, route in routes]
    for app, (model, route) in zip(versions, routes, strict=True):
        deployment = {**options(app), "user_config": app["deployments"][0]["user_config"]}
        built = app_config.version_app(model, route.version, runtime_env=app.get("runtime_env"), deployment=deployment)
        assert app == built


def test_import_paths_name_the_builders_and_deployment_names_are_the_bound_ones() -> None:
    for import_path, deployment in (
        (app_config.GATEWAY_IMPORT_PATH, app_config.GATEWAY_DEPLOYMENT),
        (app_config.VERSION_IMPORT_PATH, app_config.VERSION_DEPLOYMENT),
    ):
        module, _, builder = import_path.partition(":")
        loaded = importlib.import_module(module)
        assert callable(getattr(loaded, builder))
        assert getattr(loaded, deployment).name == deployment


def test_a_version_app_has_no_route_and_loads_its_version() -> None:
    assert app_config.version_app("iris", "3") == {
        "name": "iris-v3",
        "route_prefix": None,
        "import_path": "deployments.version_app:build_app",
        "args": {"model_uri": "models:/iris/3"},
    }


def test_a_gateway_policy_is_written_with_only_the_fields_it_sets() -> None:
    policy = GatewayConfig.model_validate(
        {"models": {"iris": {"versions": [{"version": "3", "app": "iris-v3", "weight": 100}]}}}
    )
    app = app_config.gateway_app(policy, runtime_env={"env_vars": {"K": "v"}}, deployment={"num_replicas": 1})
    assert app == {
        "name": "gateway",
        "route_prefix": "/",
        "import_path": "deployments.gateway.app:build_app",
        "runtime_env": {"env_vars": {"K": "v"}},
        "args": {},
        "deployments": [
            {
                "name": "Gateway",
                "num_replicas": 1,
                "user_config": {"models": {"iris": {"versions": [{"version": "3", "app": "iris-v3", "weight": 100}]}}},
            }
        ],
    }
