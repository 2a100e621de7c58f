"""MlflowRolloutRegistry against a real MLflow registry in a sqlite file."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from rayship.errors import NotFoundError
from registry.api import register
from rollout.adapters.mlflow_registry import MlflowRolloutRegistry

MODEL = "rollout-registry-model"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)  # MLflow's sqlite registry looks logged models up through the global URI
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment("rollout-unit", artifact_location=(root / "artifacts").as_uri())
    features, target = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(features, target), name="model", pip_requirements=["scikit-learn"]
        )
    for trial in ("t1", "t2"):
        register(MODEL, info.model_id, metrics={}, dataset_fingerprint="d" * 64, sweep_id="s", trial_id=trial,
                 client=client)  # fmt: skip
    client.set_registered_model_alias(MODEL, "champion", "1")
    yield client
    mlflow.set_tracking_uri(previous)


def champion_alias(client: MlflowClient) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(MODEL).aliases.items()}


def rollout_tags(client: MlflowClient, version: str) -> dict[str, str]:
    tags = client.get_model_version(MODEL, version).tags
    return {key: value for key, value in tags.items() if key.startswith("rayship.rollout.")}


def test_promotion_moves_the_champion_alias_and_tags_both_versions(client: MlflowClient) -> None:
    registry = MlflowRolloutRegistry(client)
    registry.record_outcome(MODEL, "1", "2", "promoted", "r-1")
    registry.record_outcome(MODEL, "1", "2", "promoted", "r-1")  # a replay changes nothing

    assert champion_alias(client) == {"champion": "2"}
    assert rollout_tags(client, "1") == {
        "rayship.rollout.verdict": "promoted",
        "rayship.rollout.id": "r-1",
        "rayship.rollout.role": "champion",
    }
    assert rollout_tags(client, "2") == {
        "rayship.rollout.verdict": "promoted",
        "rayship.rollout.id": "r-1",
        "rayship.rollout.role": "candidate",
    }


def test_a_revert_moves_the_alias_back_and_a_rollback_leaves_it(client: MlflowClient) -> None:
    registry = MlflowRolloutRegistry(client)
    registry.record_outcome(MODEL, "1", "2", "promoted", "r-2")
    registry.record_outcome(MODEL, "1", "2", "reverted", "r-2")
    assert champion_alias(client) == {"champion": "1"}
    assert rollout_tags(client, "2")["rayship.rollout.verdict"] == "reverted"

    registry.record_outcome(MODEL, "1", "2", "rolled_back", "r-3")
    assert champion_alias(client) == {"champion": "1"}
    assert rollout_tags(client, "1")["rayship.rollout.id"] == "r-3"
    assert rollout_tags(client, "2")["rayship.rollout.verdict"] == "rolled_back"


def test_an_unknown_version_is_refused_before_any_write(client: MlflowClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        MlflowRolloutRegistry(client).record_outcome(MODEL, "1", "9", "promoted", "r-4")
    assert str(raised.value) == f"Model '{MODEL}' has no version '9'"
    assert champion_alias(client) == {"champion": "1"}
