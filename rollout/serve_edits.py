"""Pure edits of a parsed Serve config (`rollout.live_config.LiveConfig`): add or remove a version app, change one
model's gateway policy. Each returns a new value; a changed policy is validated with the gateway's own schema
(`deployments.traffic_policy.GatewayConfig`) before it becomes part of the config.

Rollouts change nothing else: the gateway app's code, args and route, and other models' apps stay as they were,
so Ray sees only (a) new or removed version apps and (b) a `user_config` change it applies with `reconfigure()`.
The routers apply the composite edits (`with_version`, `with_routes`, `without_version`) one write each.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ray.serve.schema import ServeApplicationSchema

from deployments.app_config import GATEWAY_APP, VERSION_DEPLOYMENT, version_app, version_app_name
from deployments.traffic_policy import ModelPolicy, ShadowPolicy, VersionRoute
from rollout.effects import Routes
from rollout.errors import AppNotFoundError, InvalidWeightsError, ProtectedAppError, VersionNotInPolicyError
from rollout.live_config import LiveConfig, validated_gateway, with_applications, with_gateway


def version_app_of(config: LiveConfig, model: str, version: str) -> str:
    """The app the gateway policy names for a version (the conventional name when it is not listed)."""
    route = config.policy(model).route(version)
    return route.app if route is not None else version_app_name(model, version)


def candidate_app(config: LiveConfig, model: str, champion: str, candidate: str) -> dict[str, Any]:
    """The candidate's app entry, running like the champion's app (its `ModelVersion` options and runtime_env:
    how the replicas run, not what they serve), so both are measured on the same resources and autoscaling."""
    template = config.app(version_app_of(config, model, champion))
    return version_app(model, candidate, **_how_it_runs(template))


def with_version_app(config: LiveConfig, app: ServeApplicationSchema) -> LiveConfig:
    """The config with `app` added, or replacing the application of the same name in place."""
    applications = config.deploy.applications
    if app.name not in config.app_names():
        return with_applications(config, [*applications, app])
    return with_applications(config, [app if existing.name == app.name else existing for existing in applications])


def without_app(config: LiveConfig, app_name: str) -> LiveConfig:
    """The config without the named application (never the gateway)."""
    if app_name == GATEWAY_APP:
        raise ProtectedAppError(app_name)
    if app_name not in config.app_names():
        raise AppNotFoundError(app_name)
    return with_applications(config, [app for app in config.deploy.applications if app.name != app_name])


def with_model_policy(config: LiveConfig, model: str, policy: ModelPolicy) -> LiveConfig:
    """The config with the model's gateway policy replaced (or added), the whole gateway config validated."""
    user_config = config.gateway.model_dump(mode="json", exclude_unset=True)
    user_config["models"] = {**user_config.get("models", {}), model: policy.model_dump(mode="json", exclude_unset=True)}
    return with_gateway(config, validated_gateway(user_config))


def with_weights(config: LiveConfig, model: str, weights: dict[str, int]) -> LiveConfig:
    """Set weights (percent, summing to 100); listed versions not named get 0 and stay listed."""
    policy = config.policy(model)
    for version in weights:
        if policy.route(version) is None:
            raise VersionNotInPolicyError(model, version)
    return with_model_policy(config, model, _split(policy, model, weights))


def with_policy_version(config: LiveConfig, model: str, version: str) -> LiveConfig:
    """List a version in the model's policy at weight 0; unchanged when already listed."""
    policy = config.policy(model)
    if policy.route(version) is not None:
        return config
    route = VersionRoute(version=version, app=version_app_name(model, version), weight=0)
    return with_model_policy(config, model, policy.model_copy(update={"versions": [*policy.versions, route]}))


def without_policy_version(config: LiveConfig, model: str, version: str) -> LiveConfig:
    """Drop a version (which must be at weight 0) from the model's policy, and any shadowing of it."""
    policy = config.policy(model)
    route = policy.route(version)
    if route is None:
        raise VersionNotInPolicyError(model, version)
    if route.weight != 0:
        raise InvalidWeightsError(model, f"version '{version}' still has weight {route.weight}; set it to 0 first")
    update: dict[str, Any] = {"versions": [kept for kept in policy.versions if kept.version != version]}
    if policy.shadow is not None and policy.shadow.version == version:
        update["shadow"] = None
    if policy.champion == version:
        update["champion"] = None
    return with_model_policy(config, model, policy.model_copy(update=update))


def with_champion(config: LiveConfig, model: str, version: str) -> LiveConfig:
    """Name the failover target of the model."""
    return _with_listed_version(config, model, version, champion=version)


def with_shadow(config: LiveConfig, model: str, version: str | None, percent: int = 0) -> LiveConfig:
    """Mirror `percent` of the model's traffic to `version`; None (or 0 %) stops mirroring."""
    if version is None or percent == 0:
        return with_model_policy(config, model, config.policy(model).model_copy(update={"shadow": None}))
    return _with_listed_version(config, model, version, shadow=ShadowPolicy(version=version, percent=percent))


def with_sticky_header(config: LiveConfig, model: str, header: str) -> LiveConfig:
    """Hash callers to versions by this request header's value (the same caller always gets the same version)."""
    return with_model_policy(config, model, config.policy(model).model_copy(update={"sticky_header": header}))


def with_version(config: LiveConfig, model: str, version: str, app: ServeApplicationSchema) -> LiveConfig:
    """The version's app present and the version listed at weight 0 (no traffic until a split names it)."""
    return with_policy_version(with_version_app(config, app), model, version)


def with_routes(config: LiveConfig, model: str, routes: Routes) -> LiveConfig:
    """The model's split, mirroring, failover target and (when given) sticky header."""
    listed, shadow = {route.version for route in config.policy(model).versions}, routes.shadow
    # A version that never got listed (its deploy failed) has nothing to set back to 0.
    weights = {version: weight for version, weight in routes.weights.items() if weight or version in listed}
    config = with_weights(config, model, weights)
    config = with_shadow(config, model, shadow.version if shadow else None, shadow.percent if shadow else 0)
    config = with_champion(config, model, routes.champion)
    if routes.sticky_header:
        config = with_sticky_header(config, model, routes.sticky_header)
    return config


def without_version(config: LiveConfig, model: str, version: str, app_name: str) -> LiveConfig:
    """The version (at weight 0) gone from the policy and its app gone; whichever is already gone stays so."""
    if config.policy(model).route(version) is not None:
        config = without_policy_version(config, model, version)
    if app_name in config.app_names():
        config = without_app(config, app_name)
    return config


def _with_listed_version(config: LiveConfig, model: str, version: str, **update: Any) -> LiveConfig:
    policy = config.policy(model)
    if policy.route(version) is None:
        raise VersionNotInPolicyError(model, version)
    return with_model_policy(config, model, policy.model_copy(update=update))


def _split(policy: ModelPolicy, model: str, weights: dict[str, int]) -> ModelPolicy:
    """The policy with these weights, checked by the policy's own models; their failures keep rollout's wording."""
    routes = []
    for route in policy.versions:
        weight = weights.get(route.version, 0)
        try:
            routes.append(VersionRoute(version=route.version, app=route.app, weight=weight))
        except ValidationError as exc:
            problem = f"weight of version '{route.version}' is {weight}, not in [0, 100]"
            raise InvalidWeightsError(model, problem) from exc
    try:
        return ModelPolicy.model_validate({**policy.model_dump(exclude_unset=True), "versions": routes})
    except ValidationError as exc:  # only the weights changed, so only their sum can be wrong
        total = sum(route.weight for route in routes)
        raise InvalidWeightsError(model, f"weights sum to {total}, not 100") from exc


def _how_it_runs(template: ServeApplicationSchema | None) -> dict[str, Any]:
    """What a version app inherits from another version's app: its `ModelVersion` options and runtime_env."""
    if template is None:
        return {}
    parts = template.model_dump(mode="json", exclude_unset=True, include={"runtime_env"})
    deployment = next((entry for entry in template.deployments if entry.name == VERSION_DEPLOYMENT), None)
    if deployment is not None:
        parts["deployment"] = deployment.model_dump(mode="json", exclude_unset=True, exclude={"name"})
    return parts
