"""The Serve config a rollout reads and writes, parsed once: Ray's own `ServeDeploySchema`, and the gateway
deployment's `user_config` as the gateway's typed policy (`deployments.traffic_policy.GatewayConfig`).

A router parses the config it reads off the wire (`parse_live_config`) and writes back `live_config_dict`, which
holds only the fields that were set: exactly what Ray reports for a deployed app (`deployed_app_config` is dumped
the same way), so an unchanged config is written back unchanged and Ray sees no default it could take for a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from ray.serve.schema import DeploymentSchema, ServeApplicationSchema, ServeDeploySchema

from deployments.app_config import GATEWAY_APP, GATEWAY_DEPLOYMENT
from deployments.traffic_policy import GatewayConfig, ModelPolicy
from rollout.errors import (
    GatewayNotFoundError,
    InvalidGatewayPolicyError,
    InvalidServeConfigError,
    ModelPolicyNotFoundError,
)


@dataclass(frozen=True)
class LiveConfig:
    """A Serve deploy config and its gateway's policy; `deploy` always holds the policy's current dump."""

    deploy: ServeDeploySchema
    gateway: GatewayConfig

    def app(self, name: str) -> ServeApplicationSchema | None:
        return next((app for app in self.deploy.applications if app.name == name), None)

    def app_names(self) -> list[str]:
        return [app.name for app in self.deploy.applications]

    def policy(self, model: str) -> ModelPolicy:
        if model not in self.gateway.models:
            raise ModelPolicyNotFoundError(model)
        return self.gateway.models[model]

    def weights(self, model: str) -> dict[str, int]:
        """The model's current split: version -> weight."""
        return {route.version: route.weight for route in self.policy(model).versions}


def parse_live_config(raw: dict[str, Any]) -> LiveConfig:
    """Parse a Serve deploy config (the shape of `configs/serve.yaml`) that runs the gateway."""
    try:
        deploy = ServeDeploySchema.model_validate(raw)
    except ValidationError as exc:
        raise InvalidServeConfigError(_problems(exc)) from exc
    return from_deploy(deploy)


def parse_app(raw: dict[str, Any]) -> ServeApplicationSchema:
    """Parse one application's entry of a Serve deploy config."""
    try:
        return ServeApplicationSchema.model_validate(raw)
    except ValidationError as exc:
        raise InvalidServeConfigError(_problems(exc)) from exc


def live_config_dict(config: LiveConfig) -> dict[str, Any]:
    """The config as Ray takes it back: the fields that were set, JSON types."""
    return config.deploy.model_dump(mode="json", exclude_unset=True)


def from_deploy(deploy: ServeDeploySchema) -> LiveConfig:
    """A new deploy config, its gateway's policy parsed from it."""
    return LiveConfig(deploy=deploy, gateway=validated_gateway(_user_config(gateway_deployment(deploy))))


def with_applications(config: LiveConfig, applications: list[ServeApplicationSchema]) -> LiveConfig:
    """The config with these applications; the gateway's policy is parsed again only when its app changed."""
    deploy = config.deploy.model_copy(update={"applications": applications})
    if next((app for app in applications if app.name == GATEWAY_APP), None) is config.app(GATEWAY_APP):
        return LiveConfig(deploy=deploy, gateway=config.gateway)
    return from_deploy(deploy)


def with_gateway(config: LiveConfig, gateway: GatewayConfig) -> LiveConfig:
    """The config with the gateway deployment's `user_config` replaced by `gateway` (already validated)."""
    user_config = gateway.model_dump(mode="json", exclude_unset=True)
    applications = [
        _with_gateway_user_config(app, user_config) if app.name == GATEWAY_APP else app
        for app in config.deploy.applications
    ]
    return LiveConfig(deploy=config.deploy.model_copy(update={"applications": applications}), gateway=gateway)


def validated_gateway(user_config: dict[str, Any]) -> GatewayConfig:
    """A gateway `user_config` checked with the gateway's own schema, as `Gateway.reconfigure()` will."""
    try:
        return GatewayConfig.model_validate(user_config)
    except ValidationError as exc:
        raise InvalidGatewayPolicyError(_problems(exc)) from exc


def gateway_deployment(deploy: ServeDeploySchema) -> DeploymentSchema:
    """The `Gateway` deployment of the `gateway` application."""
    for app in deploy.applications:
        if app.name != GATEWAY_APP:
            continue
        for deployment in app.deployments:
            if deployment.name == GATEWAY_DEPLOYMENT:
                return deployment
    raise GatewayNotFoundError(GATEWAY_APP, GATEWAY_DEPLOYMENT)


def _user_config(deployment: DeploymentSchema) -> dict[str, Any]:
    # An unset user_config is Ray's DEFAULT sentinel, not None.
    return (deployment.user_config if "user_config" in deployment.model_fields_set else None) or {}


def _with_gateway_user_config(app: ServeApplicationSchema, user_config: dict[str, Any]) -> ServeApplicationSchema:
    deployments = [
        entry.model_copy(update={"user_config": user_config}) if entry.name == GATEWAY_DEPLOYMENT else entry
        for entry in app.deployments
    ]
    return app.model_copy(update={"deployments": deployments})


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors(include_url=False)
    )
