"""`configs/serve.yaml` is a valid Ray Serve config whose rayship parts validate against rayship's own models."""

from __future__ import annotations

from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from deployments.traffic_policy import GatewayConfig
from deployments.version_app import BatchSettings, VersionAppArgs

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def test_serve_yaml_is_a_serve_deploy_config_with_valid_rayship_sections() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    schema = ServeDeploySchema.model_validate(config)
    apps = {app.name: app for app in schema.applications}
    assert apps["gateway"].route_prefix == "/" and apps["gateway"].import_path == "deployments.gateway.app:build_app"
    policy = GatewayConfig.model_validate(apps["gateway"].deployments[0].user_config)
    for model, model_policy in policy.models.items():
        for route in model_policy.versions:
            version_app = apps[route.app]
            assert route.app == f"{model}-v{route.version}"
            assert version_app.route_prefix is None
            assert version_app.import_path == "deployments.version_app:build_app"
            args = VersionAppArgs.model_validate(version_app.args)
            assert args.model_uri == f"models:/{model}/{route.version}"
            BatchSettings.model_validate(version_app.deployments[0].user_config)
