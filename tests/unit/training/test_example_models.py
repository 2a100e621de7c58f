"""The serving benchmark's reference model, registered into a sqlite MLflow store under a temporary directory."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from registry.api import download_verified
from scripts.example_models import register_reference_forest


@pytest.fixture
def sqlite_store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    MlflowClient(uri).create_experiment("bench-serving", artifact_location=(tmp_path / "artifacts").as_uri())
    yield uri
    mlflow.set_tracking_uri(previous)


def test_the_reference_forest_is_the_same_model_for_a_seed(sqlite_store, tmp_path) -> None:
    lineage = {"experiment": "bench-serving", "sweep_id": "bench"}
    versions = [register_reference_forest("bench-iris", **lineage, seed=seed) for seed in (0, 1)]
    assert [v.uri for v in versions] == ["models:/bench-iris/1", "models:/bench-iris/2"]
    features, target = load_iris(return_X_y=True, as_frame=True)
    for seed, version in enumerate(versions):
        served = mlflow.sklearn.load_model(str(download_verified(version, tmp_path / version.version)))
        fresh = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1).fit(features, target)
        assert (type(served).__name__, served.n_estimators) == ("RandomForestClassifier", 100)
        assert np.array_equal(served.predict_proba(features), fresh.predict_proba(features))
