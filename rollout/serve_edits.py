"""Pure transforms over a Ray Serve config dict (the shape of `configs/serve.yaml` and of `GET
/api/serve/applications/`'s deploy config): add or remove a version app, read or replace a model's gateway
policy, set weights. Every function returns a new dict and never mutates its input; a resulting gateway
`user_config` is validated with the gateway's own schema (`deployments.traffic_policy.GatewayConfig`).

Rollouts change nothing else: the gateway app's code, args and route, and other models' apps stay untouched,
so Ray sees only (a) new or removed version apps and (b) a `user_config` change it applies with
`reconfigure()`.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from deployments.traffic_policy import GatewayConfig
from rollout.errors import (
    AppNotFoundError,
    GatewayNotFoundError,
    InvalidGatewayPolicyError,
    InvalidWeightsError,
    ModelPolicyNotFoundError,
    ProtectedAppError,
    VersionNotInPolicyError,
)

GATEWAY_APP = "gateway"
GATEWAY_DEPLOYMENT = "Gateway"
VERSION_APP_IMPORT_PATH = "deployments.version_app:build_app"
# What a version app inherits from the champion's app: how its replicas run, not what they serve.
TEMPLATE_KEYS = ("deployments", "runtime_env")


def version_app_name(model: str, version: str) -> str:
    """The Serve application serving one model version, e.g. 'iris-v3'."""
    return f"{model}-v{version}"


def version_app(model: str, version: str, template: dict | None = None) -> dict:
    """A version app entry with no HTTP route; deployments (and runtime_env) copied from `template`, usually
    the champion's app, so the candidate runs with the same resources and autoscaling."""
    app: dict[str, Any] = {
        "name": version_app_name(model, version),
        "route_prefix": None,
        "import_path": VERSION_APP_IMPORT_PATH,
        "args": {"model_uri": f"models:/{model}/{version}"},
    }
    for key in TEMPLATE_KEYS:
        if template is not None and template.get(key) is not None:
            app[key] = copy.deepcopy(template[key])
    return app


def app_names(config: dict) -> list[str]:
    """Names of every application in the config, in order."""
    return [app["name"] for app in config.get("applications", [])]


def find_app(config: dict, app_name: str) -> dict | None:
    """A copy of the named application, or None."""
    for app in config.get("applications", []):
        if app.get("name") == app_name:
            return copy.deepcopy(app)
    return None


def with_version_app(config: dict, app: dict) -> dict:
    """The config with `app` added, or replacing the application of the same name in place."""
    result = copy.deepcopy(config)
    applications = result.setdefault("applications", [])
    for index, existing in enumerate(applications):
        if existing.get("name") == app["name"]:
            applications[index] = copy.deepcopy(app)
            return result
    applications.append(copy.deepcopy(app))
    return result


def without_app(config: dict, app_name: str) -> dict:
    """The config without the named application (never the gateway)."""
    if app_name == GATEWAY_APP:
        raise ProtectedAppError(app_name)
    if app_name not in app_names(config):
        raise AppNotFoundError(app_name)
    result = copy.deepcopy(config)
    result["applications"] = [app for app in result["applications"] if app.get("name") != app_name]
    return result


def gateway_policy(config: dict, model: str) -> dict:
    """A copy of `user_config.models.<model>` of the gateway deployment."""
    models = (_gateway_deployment(config).get("user_config") or {}).get("models") or {}
    if model not in models:
        raise ModelPolicyNotFoundError(model)
    return copy.deepcopy(models[model])


def with_gateway_policy(config: dict, model: str, policy: dict) -> dict:
    """The config with the model's gateway policy replaced (or added), validated."""
    result = copy.deepcopy(config)
    deployment = _gateway_deployment(result)
    if deployment.get("user_config") is None:
        deployment["user_config"] = {}
    user_config = deployment["user_config"]
    user_config.setdefault("models", {})[model] = copy.deepcopy(policy)
    _validate(user_config)
    return result


def with_weights(config: dict, model: str, weights: dict[str, int]) -> dict:
    """Set weights (percent, summing to 100); listed versions not named get 0 and stay listed."""
    policy = gateway_policy(config, model)
    listed = [route["version"] for route in policy["versions"]]
    for version, weight in weights.items():
        if version not in listed:
            raise VersionNotInPolicyError(model, version)
        if not 0 <= weight <= 100:
            raise InvalidWeightsError(model, f"weight of version '{version}' is {weight}, not in [0, 100]")
    total = sum(weights.values())
    if total != 100:
        raise InvalidWeightsError(model, f"weights sum to {total}, not 100")
    policy["versions"] = [{**route, "weight": weights.get(route["version"], 0)} for route in policy["versions"]]
    return with_gateway_policy(config, model, policy)


def with_policy_version(config: dict, model: str, version: str) -> dict:
    """List a version in the model's policy at weight 0; unchanged when already listed."""
    policy = gateway_policy(config, model)
    if any(route["version"] == version for route in policy["versions"]):
        return copy.deepcopy(config)
    policy["versions"].append({"version": version, "app": version_app_name(model, version), "weight": 0})
    return with_gateway_policy(config, model, policy)


def without_policy_version(config: dict, model: str, version: str) -> dict:
    """Drop a version (which must be at weight 0) from the model's policy, and any shadowing of it."""
    policy = gateway_policy(config, model)
    route = next((route for route in policy["versions"] if route["version"] == version), None)
    if route is None:
        raise VersionNotInPolicyError(model, version)
    if route["weight"] != 0:
        raise InvalidWeightsError(model, f"version '{version}' still has weight {route['weight']}; set it to 0 first")
    policy["versions"] = [route for route in policy["versions"] if route["version"] != version]
    if (policy.get("shadow") or {}).get("version") == version:
        policy["shadow"] = None
    if policy.get("champion") == version:
        policy["champion"] = None
    return with_gateway_policy(config, model, policy)


def with_champion(config: dict, model: str, version: str) -> dict:
    """Name the failover target of the model."""
    return _with_policy_field(config, model, version, "champion", version)


def with_shadow(config: dict, model: str, version: str | None, percent: int = 0) -> dict:
    """Mirror `percent` of the model's traffic to `version`; None (or 0 %) stops mirroring."""
    if version is None or percent == 0:
        policy = gateway_policy(config, model)
        policy["shadow"] = None
        return with_gateway_policy(config, model, policy)
    return _with_policy_field(config, model, version, "shadow", {"version": version, "percent": percent})


def with_sticky_header(config: dict, model: str, header: str) -> dict:
    """Hash callers to versions by this request header's value (the same caller always gets the same version)."""
    policy = gateway_policy(config, model)
    policy["sticky_header"] = header
    return with_gateway_policy(config, model, policy)


def policy_weights(config: dict, model: str) -> dict[str, int]:
    """The model's current split: version -> weight."""
    return {route["version"]: route["weight"] for route in gateway_policy(config, model)["versions"]}


def _with_policy_field(config: dict, model: str, version: str, key: str, value: Any) -> dict:
    policy = gateway_policy(config, model)
    if not any(route["version"] == version for route in policy["versions"]):
        raise VersionNotInPolicyError(model, version)
    policy[key] = value
    return with_gateway_policy(config, model, policy)


def _gateway_deployment(config: dict) -> dict:
    """The gateway deployment's entry inside `config` (not a copy: writers copy the config first)."""
    for app in config.get("applications", []):
        if app.get("name") != GATEWAY_APP:
            continue
        for deployment in app.get("deployments") or []:
            if deployment.get("name") == GATEWAY_DEPLOYMENT:
                return deployment
    raise GatewayNotFoundError(GATEWAY_APP, GATEWAY_DEPLOYMENT)


def _validate(user_config: dict) -> None:
    try:
        GatewayConfig.model_validate(user_config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False)
        )
        raise InvalidGatewayPolicyError(problems) from exc
