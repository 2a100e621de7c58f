"""Pure transforms over a Serve config: they change only version apps and the gateway's user_config, never
mutate their input, and fail with exact messages."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from rollout.core.spec import parse_spec, sticky_header
from rollout.core.state_machine import start, step
from rollout.effects import apply_effect, route_effect
from rollout.errors import (
    AppNotFoundError,
    GatewayNotFoundError,
    InvalidGatewayPolicyError,
    InvalidWeightsError,
    ModelPolicyNotFoundError,
    ProtectedAppError,
    VersionNotInPolicyError,
)
from rollout.serve_edits import (
    find_app,
    gateway_policy,
    policy_weights,
    version_app,
    version_app_name,
    with_champion,
    with_gateway_policy,
    with_policy_version,
    with_shadow,
    with_version_app,
    with_weights,
    without_app,
    without_policy_version,
)

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def serve_config() -> dict:
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": "127.0.0.1", "port": 8000},
        "applications": [
            {
                "name": "gateway",
                "route_prefix": "/",
                "import_path": "deployments.gateway.app:build_app",
                "args": {},
                "deployments": [
                    {
                        "name": "Gateway",
                        "ray_actor_options": {"num_cpus": 0.1},
                        "user_config": {
                            "models": {
                                "iris": {
                                    "versions": [{"version": "1", "app": "iris-v1", "weight": 100}],
                                    "champion": "1",
                                    "allow_pinning": True,
                                    "failover": True,
                                }
                            }
                        },
                    }
                ],
            },
            {
                "name": "iris-v1",
                "route_prefix": None,
                "import_path": "deployments.version_app:build_app",
                "args": {"model_uri": "models:/iris/1"},
                "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}},
                "deployments": [
                    {
                        "name": "ModelVersion",
                        "ray_actor_options": {"num_cpus": 0.25},
                        "autoscaling_config": {"min_replicas": 1, "max_replicas": 2},
                    }
                ],
            },
        ],
    }


def with_candidate(config: dict) -> dict:
    config = with_version_app(config, version_app("iris", "2", find_app(config, "iris-v1")))
    return with_policy_version(config, "iris", "2")


def test_version_app_name() -> None:
    assert version_app_name("iris", "3") == "iris-v3"


def test_version_app_copies_how_the_champion_runs() -> None:
    template = find_app(serve_config(), "iris-v1")
    app = version_app("iris", "2", template)
    assert app == {
        "name": "iris-v2",
        "route_prefix": None,
        "import_path": "deployments.version_app:build_app",
        "args": {"model_uri": "models:/iris/2"},
        "deployments": template["deployments"],
        "runtime_env": template["runtime_env"],
    }
    app["deployments"][0]["ray_actor_options"]["num_cpus"] = 9
    assert template["deployments"][0]["ray_actor_options"]["num_cpus"] == 0.25


def test_version_app_without_template() -> None:
    assert version_app("iris", "2") == {
        "name": "iris-v2",
        "route_prefix": None,
        "import_path": "deployments.version_app:build_app",
        "args": {"model_uri": "models:/iris/2"},
    }


def test_with_version_app_appends_then_replaces_in_place() -> None:
    config = serve_config()
    added = with_version_app(config, version_app("iris", "2"))
    assert [app["name"] for app in added["applications"]] == ["gateway", "iris-v1", "iris-v2"]
    replaced = with_version_app(added, {**version_app("iris", "2"), "args": {"model_uri": "models:/iris/2", "x": 1}})
    assert [app["name"] for app in replaced["applications"]] == ["gateway", "iris-v1", "iris-v2"]
    assert replaced["applications"][2]["args"]["x"] == 1
    assert config == serve_config()


def test_without_app() -> None:
    config = with_version_app(serve_config(), version_app("iris", "2"))
    assert [app["name"] for app in without_app(config, "iris-v1")["applications"]] == ["gateway", "iris-v2"]
    with pytest.raises(AppNotFoundError) as caught:
        without_app(config, "iris-v9")
    assert str(caught.value) == "Serve config has no application 'iris-v9'"
    with pytest.raises(ProtectedAppError) as protected:
        without_app(config, "gateway")
    assert str(protected.value) == "Application 'gateway' is the gateway; rollouts never remove it"


def test_weights_change_only_the_gateway_user_config() -> None:
    config = with_candidate(serve_config())
    before = copy.deepcopy(config)
    shifted = with_weights(config, "iris", {"1": 90, "2": 10})
    assert config == before
    assert policy_weights(shifted, "iris") == {"1": 90, "2": 10}
    assert gateway_policy(shifted, "iris")["versions"][1] == {"version": "2", "app": "iris-v2", "weight": 10}
    shifted["applications"][0]["deployments"][0]["user_config"] = before["applications"][0]["deployments"][0][
        "user_config"
    ]
    assert shifted == before


def test_versions_not_named_go_to_zero_and_stay_listed() -> None:
    config = with_weights(with_candidate(serve_config()), "iris", {"2": 100})
    assert policy_weights(config, "iris") == {"1": 0, "2": 100}


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
        with_weights(with_candidate(serve_config()), "iris", weights)
    assert str(caught.value) == message


def test_missing_model() -> None:
    with pytest.raises(ModelPolicyNotFoundError) as caught:
        with_weights(serve_config(), "wine", {"1": 100})
    assert str(caught.value) == "Gateway has no traffic policy for model 'wine'"
    assert caught.value.status_code == 404


def test_missing_gateway() -> None:
    config = serve_config()
    config["applications"] = config["applications"][1:]
    with pytest.raises(GatewayNotFoundError) as caught:
        gateway_policy(config, "iris")
    assert str(caught.value) == "Serve config has no application 'gateway' with a deployment 'Gateway'"


def test_with_gateway_policy_validates_with_the_gateways_schema() -> None:
    policy = gateway_policy(serve_config(), "iris")
    policy["champion"] = "5"
    with pytest.raises(InvalidGatewayPolicyError) as caught:
        with_gateway_policy(serve_config(), "iris", policy)
    assert (
        str(caught.value) == "Gateway user_config is invalid: models.iris: champion '5' is not one of the versions (1)"
    )


def test_with_gateway_policy_adds_a_model() -> None:
    policy = {"versions": [{"version": "4", "app": "wine-v4", "weight": 100}]}
    config = with_gateway_policy(serve_config(), "wine", policy)
    assert gateway_policy(config, "wine") == policy
    assert gateway_policy(config, "iris") == gateway_policy(serve_config(), "iris")


def test_policy_version_is_added_once_and_removed_at_zero_only() -> None:
    config = with_candidate(serve_config())
    assert with_policy_version(config, "iris", "2") == config
    with pytest.raises(InvalidWeightsError, match="version '2' still has weight 10; set it to 0 first"):
        without_policy_version(with_weights(config, "iris", {"1": 90, "2": 10}), "iris", "2")
    shadowed = with_shadow(config, "iris", "2", 20)
    assert gateway_policy(shadowed, "iris")["shadow"] == {"version": "2", "percent": 20}
    removed = without_policy_version(shadowed, "iris", "2")
    assert gateway_policy(removed, "iris")["versions"] == [{"version": "1", "app": "iris-v1", "weight": 100}]
    assert gateway_policy(removed, "iris")["shadow"] is None


def test_champion_and_shadow_need_a_listed_version() -> None:
    config = with_candidate(serve_config())
    assert gateway_policy(with_champion(config, "iris", "2"), "iris")["champion"] == "2"
    with pytest.raises(VersionNotInPolicyError, match="^Model 'iris' has no version '3' in the gateway policy$"):
        with_shadow(config, "iris", "3", 10)
    assert gateway_policy(with_shadow(config, "iris", None), "iris")["shadow"] is None


def test_an_ab_test_split_pins_callers_by_its_header_and_other_strategies_leave_it_alone() -> None:
    spec = parse_spec({"strategy": "abtest", "interval_s": 1, "duration_s": 2, "sticky_header": "X-Tenant"})
    before = start("r1", "iris", "1", "2", spec, now_s=0)
    split = step(before, None, spec, now_s=1)
    config, wait_for = apply_effect(with_candidate(serve_config()), "iris", route_effect(before, split, "X-Tenant"))
    assert (policy_weights(config, "iris"), gateway_policy(config, "iris")["sticky_header"], wait_for) == (
        {"1": 50, "2": 50},
        "X-Tenant",
        ["gateway"],
    )
    assert sticky_header(spec) == "X-Tenant"
    canary = parse_spec({"strategy": "canary", "step_weights": [50]})
    assert sticky_header(canary) is None
    config, _ = apply_effect(with_candidate(serve_config()), "iris", route_effect(before, split, sticky_header(canary)))
    assert "sticky_header" not in gateway_policy(config, "iris")


def test_shipped_serve_yaml_is_understood() -> None:
    config = yaml.safe_load(SERVE_YAML.read_text())
    models = next(app for app in config["applications"] if app["name"] == "gateway")["deployments"][0]["user_config"]
    for model in models["models"]:
        assert sum(policy_weights(config, model).values()) == 100
