from __future__ import annotations

import pytest
from pydantic import ValidationError

from deployments.traffic_policy import GatewayConfig, ModelPolicy

EXAMPLE = {
    "max_body_bytes": 1048576,
    "api_keys_env": "RAYSHIP_API_KEYS",
    "models": {
        "iris": {
            "versions": [
                {"version": "1", "app": "iris-v1", "weight": 90},
                {"version": "2", "app": "iris-v2", "weight": 10},
            ],
            "champion": "1",
            "allow_pinning": True,
            "sticky_header": "X-User-Id",
            "shadow": {"version": "2", "percent": 10},
            "failover": True,
        }
    },
}


def _error(config: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        GatewayConfig.model_validate(config)
    return str(caught.value)


def _iris(**changes: object) -> dict:
    iris = dict(EXAMPLE["models"]["iris"], **changes)
    return {"models": {"iris": iris}}


def test_the_documented_example_validates() -> None:
    config = GatewayConfig.model_validate(EXAMPLE)
    iris = config.models["iris"]
    assert [(r.version, r.app, r.weight) for r in iris.versions] == [("1", "iris-v1", 90), ("2", "iris-v2", 10)]
    assert iris.sticky_header == "x-user-id"
    assert iris.shadow is not None and iris.shadow.percent == 10
    assert config.max_body_bytes == 1048576


def test_defaults_give_an_open_gateway_with_a_1_mib_limit() -> None:
    config = GatewayConfig.model_validate({"models": {}})
    assert (config.api_keys_env, config.max_body_bytes, config.models) == (None, 1048576, {})


def test_weights_must_sum_to_100() -> None:
    versions = [{"version": "1", "app": "iris-v1", "weight": 90}, {"version": "2", "app": "iris-v2", "weight": 20}]
    assert "version weights must sum to 100, got 110" in _error(_iris(versions=versions))


def test_champion_must_be_a_listed_version() -> None:
    assert "champion '3' is not one of the versions (1, 2)" in _error(_iris(champion="3"))


def test_shadow_must_be_a_listed_version() -> None:
    assert "shadow version '9' is not one of the versions (1, 2)" in _error(
        _iris(shadow={"version": "9", "percent": 5})
    )


def test_versions_and_apps_are_unique() -> None:
    same_version = [{"version": "1", "app": "a", "weight": 50}, {"version": "1", "app": "b", "weight": 50}]
    assert "versions are listed more than once: 1" in _error(_iris(versions=same_version))
    same_app = [{"version": "1", "app": "a", "weight": 50}, {"version": "2", "app": "a", "weight": 50}]
    assert "apps serve more than one version: a" in _error(_iris(versions=same_app))


def test_unknown_keys_are_rejected() -> None:
    assert "Extra inputs are not permitted" in _error({"models": {}, "weights": {}})
    assert "Extra inputs are not permitted" in _error(_iris(canary=True))


def test_negative_weight_and_bad_names_are_rejected() -> None:
    versions = [{"version": "1", "app": "iris-v1", "weight": -10}, {"version": "2", "app": "iris-v2", "weight": 110}]
    assert "greater than or equal to 0" in _error(_iris(versions=versions))
    assert "invalid model names" in _error({"models": {"bad name": EXAMPLE["models"]["iris"]}})


def test_champion_defaults_to_the_heaviest_version() -> None:
    policy = ModelPolicy.model_validate(
        {"versions": [{"version": "1", "app": "a", "weight": 30}, {"version": "2", "app": "b", "weight": 70}]}
    )
    assert policy.champion_version == "2"
