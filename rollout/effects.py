"""What each rollout step does to the live Serve config, as pure functions of (config, effect).

An effect is the JSON dict stored with an intent (`rollout.persistence.store.Intent.effect`); applying it twice
gives the same config as applying it once (absolute weights; "app present"; "version absent"), which is what makes crash
replay safe. Kinds:
- `deploy`: `{"app": {...}, "version": v}` - add the version app and list the version at weight 0;
- `route`: `{"weights": {v: w}, "shadow": {"version", "percent"} | null, "champion": v | null}` - the split,
  plus `"sticky_header": h` when callers must stick to a version by that header (A/B tests);
- `remove`: `{"version": v, "app": name}` - drop a version at weight 0 from the policy and its app;
- `none`: `{}` - a phase change only (pause).
"""

from __future__ import annotations

from typing import Any

from rollout.core.state_machine import Action, Decision, RolloutState
from rollout.serve_edits import (
    GATEWAY_APP,
    app_names,
    find_app,
    gateway_policy,
    version_app,
    version_app_name,
    with_champion,
    with_policy_version,
    with_shadow,
    with_sticky_header,
    with_version_app,
    with_weights,
    without_app,
    without_policy_version,
)

Effect = dict[str, Any]
VERDICTS = {
    Action.PROMOTE: "promoted",
    Action.ROLLBACK: "rolled_back",
    Action.CONCLUDE: "concluded",
    Action.RESTART: "superseded",
}


def deploy_effect(config: dict, model: str, champion: str, candidate: str) -> Effect:
    """Deploy the candidate's app shaped like the champion's."""
    template = find_app(config, _app_of(config, model, champion))
    return {"kind": "deploy", "version": candidate, "app": version_app(model, candidate, template)}


def route_effect(before: RolloutState, decision: Decision, sticky_header: str | None = None) -> Effect:
    """The split a policy decision stands for (RESTART gives the old candidate's share back); with
    `sticky_header`, the gateway pins each caller to one version by that header."""
    state = decision.state
    if decision.action is Action.PAUSE:
        return {"kind": "none"}
    restarted = decision.action is Action.RESTART  # the old candidate's share goes back to the champion
    weights = {before.champion: 100, before.candidate: 0} if restarted else state.weights()
    shadow = {"version": state.candidate, "percent": state.mirror_percent} if state.mirror_percent else None
    # Always explicit, so a replay or a rollback after a promotion leaves the right failover target.
    champion = state.candidate if decision.action is Action.PROMOTE else before.champion
    effect = {"kind": "route", "weights": weights, "shadow": shadow, "champion": champion}
    return {**effect, "sticky_header": sticky_header} if sticky_header else effect


def remove_effect(config: dict, model: str, version: str) -> Effect:
    return {"kind": "remove", "version": version, "app": _app_of(config, model, version)}


def verdict_of(action: Action) -> str | None:
    """The registry tag a terminal action leaves on the versions (None for actions that decide nothing)."""
    return VERDICTS.get(action)


def apply_effect(config: dict, model: str, effect: Effect) -> tuple[dict, list[str]]:
    """The new config, and the apps that must be RUNNING before the step counts as applied."""
    kind = effect.get("kind", "none")
    if kind == "deploy":
        config = with_version_app(config, effect["app"])
        return with_policy_version(config, model, effect["version"]), [effect["app"]["name"], GATEWAY_APP]
    if kind == "route":
        # A version that never got listed (its deploy failed) has nothing to set back to 0.
        listed = {route["version"] for route in gateway_policy(config, model)["versions"]}
        weights = {version: weight for version, weight in effect["weights"].items() if weight or version in listed}
        config = with_weights(config, model, weights)
        shadow = effect.get("shadow")
        config = with_shadow(config, model, shadow["version"] if shadow else None, shadow["percent"] if shadow else 0)
        if effect.get("champion"):
            config = with_champion(config, model, effect["champion"])
        if effect.get("sticky_header"):
            config = with_sticky_header(config, model, effect["sticky_header"])
        return config, [GATEWAY_APP]
    if kind == "remove":
        return _without_version(config, model, effect["version"], effect["app"]), [GATEWAY_APP]
    return config, []


def _without_version(config: dict, model: str, version: str, app_name: str) -> dict:
    listed = {route["version"] for route in gateway_policy(config, model)["versions"]}
    if version in listed:
        config = without_policy_version(config, model, version)
    if app_name in app_names(config):
        config = without_app(config, app_name)
    return config


def _app_of(config: dict, model: str, version: str) -> str:
    """The app the gateway policy names for a version (the conventional name when it is not listed)."""
    for route in gateway_policy(config, model)["versions"]:
        if route["version"] == version:
            return route["app"]
    return version_app_name(model, version)
