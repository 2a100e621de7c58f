"""The registry seam against the cluster's real `mlflow server` (sqlite backend, artifacts served by the server)."""

import uuid
from pathlib import Path

import mlflow
import pytest
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.api import download_verified, register, resolve, verify
from registry.catalog import model_card
from registry.cli import EXIT_OK, EXIT_VERIFY_FAILED, main
from registry.connection import connect
from registry.errors import DigestMismatchError


@pytest.fixture(scope="module")
def logged_model(cluster):
    mlflow.set_tracking_uri(cluster.mlflow_url)
    experiment = mlflow.set_experiment(f"it-registry-{uuid.uuid4().hex[:8]}")
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            input_example=features.head(2),
            pip_requirements=["scikit-learn"],
        )
    return info


def stored_files(cluster, client, model_id) -> Path:
    """The server keeps `mlflow-artifacts:/<path>` under its --artifacts-destination (the cluster's state dir)."""
    location = client.get_logged_model(model_id).artifact_location
    assert location.startswith("mlflow-artifacts:/")
    return cluster.state_dir / "mlflow-artifacts" / location.removeprefix("mlflow-artifacts:/")


def test_register_resolve_alias_and_verify_over_http(cluster, logged_model, tmp_path, capsys):
    client = connect(cluster.mlflow_url)
    name = f"it-iris-{uuid.uuid4().hex[:8]}"
    pinned = register(
        name,
        logged_model.model_id,
        metrics={"accuracy": 0.97},
        dataset_fingerprint="c" * 64,
        sweep_id="sweep-it",
        trial_id="trial-it",
        client=client,
    )
    assert main(["alias", "set", name, "champion", pinned.version]) == EXIT_OK
    assert resolve(f"models:/{name}@champion") == pinned
    assert model_card(pinned, client).aliases == ["champion"]
    assert verify(pinned, client=client).ok
    model_dir = download_verified(pinned, tmp_path)
    assert mlflow.pyfunc.load_model(str(model_dir)).predict(load_iris(as_frame=True).data.head(3)).shape == (3,)
    capsys.readouterr()

    mlmodel = stored_files(cluster, client, logged_model.model_id) / "MLmodel"
    original = mlmodel.read_bytes()
    try:
        mlmodel.write_bytes(original[:-1] + bytes([original[-1] ^ 0x01]))
        with pytest.raises(DigestMismatchError) as info:
            download_verified(pinned, tmp_path / "tampered", client=client)
        assert str(info.value) == f"Model {name}/{pinned.version} failed digest verification: MLmodel sha256 mismatch"
        assert main(["verify", f"{name}@champion"]) == EXIT_VERIFY_FAILED
        assert "MLmodel sha256 mismatch" in capsys.readouterr().out
    finally:
        mlmodel.write_bytes(original)
    assert verify(pinned, client=client).ok
