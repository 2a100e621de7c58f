"""Files beside a version's model (the reference profile): added at registration or afterwards, always covered by
the digest manifest; and tags on the registered model (the monitoring spec)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from monitoring.backfill import backfill_profile
from monitoring.errors import ProfileDataError
from monitoring.profile import PROFILE_FILE, parse_profile
from rayship.errors import ModelNotFoundError
from registry import tags
from registry.api import add_version_file, download_verified, register, verify
from registry.catalog import model_tag, set_model_tag
from registry.errors import DigestMismatchError, VersionFileExistsError
from registry.manifest import decode_manifest


def _register(client, model_id, name, extra_files=None):
    return register(
        name,
        model_id,
        metrics={},
        dataset_fingerprint="f" * 64,
        sweep_id="s",
        trial_id="t",
        extra_files=extra_files,
        client=client,
    )


def _log_iris(client) -> str:
    """A fresh logged model (with a signature), so each test adds files to its own."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run(experiment_id=client.get_experiment_by_name("registry-unit").experiment_id):
        model = LogisticRegression(max_iter=300).fit(features, target)
        return mlflow.sklearn.log_model(model, name="model", input_example=features.head(2)).model_id


def test_extra_files_are_stored_beside_the_model_and_in_the_manifest(sqlite_client, logged_model_id, tmp_path):
    pinned = _register(sqlite_client, logged_model_id, "files-at-registration", {"notes.json": b'{"a": 1}'})

    manifest = decode_manifest(sqlite_client.get_model_version(pinned.name, pinned.version).tags[tags.MANIFEST])
    model_dir = download_verified(pinned, tmp_path, sqlite_client)
    assert "notes.json" in manifest
    assert (model_dir / "notes.json").read_bytes() == b'{"a": 1}'


def test_a_file_added_later_is_verified_with_everything_else_and_only_once(sqlite_client, tmp_path):
    pinned = _register(sqlite_client, _log_iris(sqlite_client), "files-later")

    add_version_file(pinned, "extra.txt", b"hello", sqlite_client)

    assert verify(pinned, sqlite_client).ok
    assert (download_verified(pinned, tmp_path, sqlite_client) / "extra.txt").read_bytes() == b"hello"
    with pytest.raises(VersionFileExistsError) as caught:
        add_version_file(pinned, "extra.txt", b"again", sqlite_client)
    assert str(caught.value) == "Model files-later/1 already has extra.txt"


def test_a_tampered_version_gets_no_new_file(sqlite_client, logged_model_id, model_store_dir):
    pinned = _register(sqlite_client, logged_model_id, "files-tampered")
    before = sqlite_client.get_model_version(pinned.name, pinned.version).tags[tags.MANIFEST]
    target = model_store_dir / "MLmodel"
    original = target.read_bytes()
    target.write_bytes(original + b"\n# tampered\n")
    try:
        with pytest.raises(DigestMismatchError, match="MLmodel sha256 mismatch"):
            add_version_file(pinned, "extra.txt", b"x", sqlite_client)
    finally:
        target.write_bytes(original)
    assert sqlite_client.get_model_version(pinned.name, pinned.version).tags[tags.MANIFEST] == before
    assert not (model_store_dir / "extra.txt").exists()


def test_model_tags_round_trip_and_name_a_missing_model(sqlite_client, logged_model_id):
    pinned = _register(sqlite_client, logged_model_id, "tagged")

    assert model_tag(pinned.name, tags.MONITORING_SPEC, sqlite_client) is None
    set_model_tag(pinned.name, tags.MONITORING_SPEC, '{"model": "tagged"}', sqlite_client)
    assert model_tag(pinned.name, tags.MONITORING_SPEC, sqlite_client) == '{"model": "tagged"}'
    with pytest.raises(ModelNotFoundError, match=r"^Model 'ghost' is not registered$"):
        set_model_tag("ghost", tags.MONITORING_SPEC, "{}", sqlite_client)


def test_backfill_profiles_a_version_from_a_data_file(sqlite_client, tmp_path):
    features, target = load_iris(return_X_y=True, as_frame=True)
    pinned = _register(sqlite_client, _log_iris(sqlite_client), "backfilled")
    data = tmp_path / "reference.csv"
    features.assign(species=target).to_csv(data, index=False)

    profile = backfill_profile(pinned.uri, data, target="species", client=sqlite_client)

    stored = parse_profile((download_verified(pinned, tmp_path / "dl", sqlite_client) / PROFILE_FILE).read_text(), "x")
    assert stored == profile
    assert profile.rows == 150 and profile.feature_names == list(features.columns)
    assert profile.predictions is None  # a plain MLflow model: no rayship metadata says what its pyfunc returns
    with pytest.raises(VersionFileExistsError):
        backfill_profile(pinned.uri, data, target="species", client=sqlite_client)


def test_backfill_names_the_columns_the_model_needs(sqlite_client, tmp_path):
    pinned = _register(sqlite_client, _log_iris(sqlite_client), "backfill-wrong")
    data = tmp_path / "wrong.csv"
    pd.DataFrame({"sepal length (cm)": [1.0]}).to_csv(data, index=False)

    with pytest.raises(ProfileDataError) as caught:
        backfill_profile(pinned.uri, data, client=sqlite_client)
    assert str(caught.value) == (
        f"Reference data '{data}' cannot profile this version: columns the model needs are missing: "
        "sepal width (cm), petal length (cm), petal width (cm)"
    )
