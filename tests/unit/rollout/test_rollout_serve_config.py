"""Pure edits of a parsed Serve config: they change only version apps and the gateway's user_config, return new
values, and fail with exact messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployments.app_config import gateway_app, version_app, version_app_name
from deployments.traffic_policy import ModelPolicy
from rollout.core.spec import parse_spec, sticky_header
from rollout.core.state_machine import start, step
from rollout.effects import route_effect
from rollout.errors import (
    AppNotFoundError,
    GatewayNotFoundError,
    InvalidGatewayPolicyError,
    InvalidWeightsError,
    ModelPolicyNotFoundError,
    ProtectedAppError,
    VersionNotInPolicyError,
)
from rollout.live_config import LiveConfig, live_config_dict, parse_app, parse_live_config
from rollout.serve_edits import (
    candidate_app,
    with_champion,
    with_model_policy,
    with_policy_version,
    with_shadow,
    with_version,
    with_version_app,
    with_weights,
    without_app,
    without_policy_version,
)
from tests.unit.rollout.serve_fakes import MemoryRouter, policy_of

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"
IRIS_POLICY = {
    "models": {
        "iris": {
            "versions": [{"version": "1", "app": "iris-v1", "weight": 100}],
            "champion": "1",
            "allow_pinning": True,
            "failover": True,
        }
    }
}


def serve_config() -> dict:
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": "127.0.0.1", "port": 8000},
        "applications": [
            gateway_app(IRIS_POLICY, deployment={"ray_actor_options": {"num_cpus": 0.1}}),
            version_app(
                "iris",
                "1",
                runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
                deployment={
                    "ray_actor_options": {"num_cpus": 0.25},
                    "autoscaling_config": {"min_replicas": 1, "max_replicas": 2},
                },
            ),
        ],
    }


def live() -> LiveConfig:
    return parse_live_config(serve_config())


def with_candidate(config: LiveConfig) -> LiveConfig:
    return with_version(config, "iris", "2", parse_app(candidate_app(config, "iris", "1", "2")))


def test_version_app_name() -> None:
    assert version_app_name("iris", "3") == "iris-v3"


def test_version_app_copies_how_the_champion_runs() -> None:
    config = live()
    template = config.app("iris-v1").model_dump(mode="json", exclude_unset=True)
    app = candidate_app(config, "iris", "1", "2")
    assert app == {
        "name": "iris-v2",
        "route_prefix": None,
        "import_path": "deployments.version_app:build_app",
        "args": {"model_uri": "models:/iris/2"},
        "deployments": template["deployments"],
        "runtime_env": template["runtime_env"],
    }
    app["deployments"][0]["ray_actor_options"]["num_cpus"] = 9
    assert config.app("iris-v1").deployments[0].ray_actor_options.num_cpus == 0.25


def test_version_app_without_template() -> None:
    without_champion_app = without_app(live(), "iris-v1")
    assert (
        candidate_app(without_champion_app, "iris", "1", "2")
        == version_app("iris", "2")
        == {
            "name": "iris-v2",
            "route_prefix": None,
            "import_path": "deployments.version_app:build_app",
            "args": {"model_uri": "models:/iris/2"},
        }
    )


def test_with_version_app_appends_then_replaces_in_place() -> None:
    config = live()
    added = with_version_app(config, parse_app(version_app("iris", "2")))
    assert added.app_names() == ["gateway", "iris-v1", "iris-v2"]
    changed_args = {**version_app("iris", "2"), "args": {"model_uri": "models:/iris/2", "x": 1}}
    replaced = with_version_app(added, parse_app(changed_args))
    assert replaced.app_names() == ["gateway", "iris-v1", "iris-v2"]
    assert replaced.app("iris-v2").args["x"] == 1
    assert config == live()


def test_without_app() -> None:
    config = with_version_app(live(), parse_app(version_app("iris", "2")))
    assert without_app(config, "iris-v1").app_names() == ["gateway", "iris-v2"]
    with pytest.raises(AppNotFoundError) as caught:
        without_app(config, "iris-v9")
    assert str(caught.value) == "Serve config has no application 'iris-v9'"
    with pytest.raises(ProtectedAppError) as protected:
        without_app(config, "gateway")
    assert str(protected.value) == "Application 'gateway' is the gateway; rollouts never remove it"


def test_weights_change_only_the_gateway_user_config() -> None:
    config = with_candidate(live())
    before = live_config_dict(config)
    shifted = with_weights(config, "iris", {"1": 90, "2": 10})
    assert live_config_dict(config) == before
    assert shifted.weights("iris") == {"1": 90, "2": 10}
    assert policy_of(shifted, "iris")["versions"][1] == {"version": "2", "app": "iris-v2", "weight": 10}
    after = live_config_dict(shifted)
    after["applications"][0]["deployments"][0]["user_config"] = before["applications"][0]["deployments"][0][
        "user_config"
    ]
    assert after == before


def test_versions_not_named_go_to_zero_and_stay_listed() -> None:
    config = with_weights(with_candidate(live()), "iris", {"2": 100})
    assert config.weights("iris") == {"1": 0, "2": 100}


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        (
            {"1": 90, "2": 5},
            InvalidWeightsError,
            "Invalid weights for model 'iris': weights sum to 95, not 100",
        ),
        (
            {"1": 110, "2": -10},
            InvalidWeightsError,
            "Invalid weights for model 'iris': weight of version '1' is 110, not in [0, 100]",
        ),
        (
            {"1": 50, "7": 50},
            VersionNotInPolicyError,
            "Model 'iris' has no version '7' in the gateway policy",
        ),
    ],
)
def test_bad_weights(weights: dict, error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        with_weights(with_candidate(live()), "iris", weights)
    assert str(caught.value) == message


def test_missing_model() -> None:
    with pytest.raises(ModelPolicyNotFoundError) as caught:
        with_weights(live(), "wine", {"1": 100})
    assert str(caught.value) == "Gateway has no traffic policy for model 'wine'"
    assert caught.value.status_code == 404


def test_missing_gateway() -> None:
    config = serve_config()
    config["applications"] = config["applications"][1:]
    with pytest.raises(GatewayNotFoundError) as caught:
        parse_live_config(config)
    assert str(caught.value) == "Serve config has no application 'gateway' with a deployment 'Gateway'"


def test_with_gateway_policy_validates_with_the_gateways_schema() -> None:
    policy = live().policy("iris").model_copy(update={"champion": "5"})
    with pytest.raises(InvalidGatewayPolicyError) as caught:
        with_model_policy(live(), "iris", policy)
    assert (
        str(caught.value) == "Gateway user_config is invalid: models.iris: champion '5' is not one of the versions (1)"
    )


def test_with_gateway_policy_adds_a_model() -> None:
    policy = {"versions": [{"version": "4", "app": "wine-v4", "weight": 100}]}
    config = with_model_policy(live(), "wine", ModelPolicy.model_validate(policy))
    assert policy_of(config, "wine") == policy
    assert policy_of(config, "iris") == policy_of(live(), "iris")


def test_policy_version_is_added_once_and_removed_at_zero_only() -> None:
    config = with_candidate(live())
    assert with_policy_version(config, "iris", "2") == config
    with pytest.raises(InvalidWeightsError, match="version '2' still has weight 10; set it to 0 first"):
        without_policy_version(with_weights(config, "iris", {"1": 90, "2": 10}), "iris", "2")
    shadowed = with_shadow(config, "iris", "2", 20)
    assert policy_of(shadowed, "iris")["shadow"] == {"version": "2", "percent": 20}
    removed = without_policy_version(shadowed, "iris", "2")
    assert policy_of(removed, "iris")["versions"] == [{"version": "1", "app": "iris-v1", "weight": 100}]
    assert policy_of(removed, "iris")["shadow"] is None


def test_champion_and_shadow_need_a_listed_version() -> None:
    config = with_candidate(live())
    assert with_champion(config, "iris", "2").policy("iris").champion == "2"
    with pytest.raises(VersionNotInPolicyError, match="^Model 'iris' has no version '3' in the gateway policy$"):
        with_shadow(config, "iris", "3", 10)
    assert with_shadow(config, "iris", None).policy("iris").shadow is None


def test_an_ab_test_split_pins_callers_by_its_header_and_other_strategies_leave_it_alone() -> None:
    spec = parse_spec({"strategy": "abtest", "interval_s": 1, "duration_s": 2, "sticky_header": "X-Tenant"})
    before = start("r1", "iris", "1", "2", spec, now_s=0)
    split = step(before, None, spec, now_s=1)
    router = MemoryRouter(live_config_dict(with_candidate(live())))
    effect = route_effect(before, split, "X-Tenant")
    router.set_routes("iris", effect)
    # The gateway's schema lowercases header names (HTTP headers are case-insensitive).
    assert (router.applied().weights("iris"), policy_of(router.config, "iris")["sticky_header"], router.waits) == (
        {"1": 50, "2": 50},
        "x-tenant",
        [["gateway"]],
    )
    assert sticky_header(spec) == "X-Tenant"
    canary = parse_spec({"strategy": "canary", "step_weights": [50]})
    assert sticky_header(canary) is None
    router = MemoryRouter(live_config_dict(with_candidate(live())))
    effect = route_effect(before, split, sticky_header(canary))
    router.set_routes("iris", effect)
    assert "sticky_header" not in policy_of(router.config, "iris")


def test_shipped_serve_yaml_is_understood() -> None:
    config = parse_live_config(yaml.safe_load(SERVE_YAML.read_text()))
    for model in config.gateway.models:
        assert sum(config.weights(model).values()) == 100
