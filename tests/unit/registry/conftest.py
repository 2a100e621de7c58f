"""A real MLflow tracking store and registry in a sqlite file under a temporary directory, plus a logged model."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    # MLflow's sqlite registry looks logged models up through the global tracking URI.
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_experiment("registry-unit", artifact_location=(root / "artifacts").as_uri())
    yield client
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def logged_model_id(sqlite_client: MlflowClient) -> str:
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    experiment = sqlite_client.get_experiment_by_name("registry-unit")
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    return info.model_id


@pytest.fixture
def model_store_dir(sqlite_client: MlflowClient, logged_model_id: str) -> Path:
    """Where the local artifact store keeps the logged model's files (for tests that tamper with them)."""
    location = sqlite_client.get_logged_model(logged_model_id).artifact_location
    return Path(location.removeprefix("file://"))


@pytest.fixture
def tamperable_store(model_store_dir, tmp_path):
    """The logged model's stored files, restored after the test so other tests see them intact."""
    backup = tmp_path / "backup"
    shutil.copytree(model_store_dir, backup)
    yield model_store_dir
    shutil.rmtree(model_store_dir)
    shutil.copytree(backup, model_store_dir)
