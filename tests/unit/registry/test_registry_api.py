import mlflow
import pytest

from rayship.errors import ModelNotFoundError, VersionNotFoundError
from registry import tags as tag_names
from registry.api import PinnedVersion, download_verified, register, resolve, verify
from registry.connection import connect
from registry.errors import (
    AliasNotFoundError,
    DigestMismatchError,
    LoggedModelNotFoundError,
    ManifestMissingError,
    RegistryUnavailableError,
)
from registry.manifest import compute_manifest, decode_manifest


def _register(client, model_id, name="iris"):
    return register(
        name,
        model_id,
        metrics={"accuracy": 0.96},
        dataset_fingerprint="f" * 64,
        sweep_id="sweep-1",
        trial_id="trial-a",
        client=client,
    )


def test_pinned_version_uri_and_immutability():
    pinned = PinnedVersion(name="iris", version="3")
    assert pinned.uri == "models:/iris/3"
    with pytest.raises(ValueError):
        pinned.version = "4"
    with pytest.raises(ValueError):
        PinnedVersion(name="iris", version="3", stage="x")


def test_register_records_manifest_metrics_and_lineage(sqlite_client, logged_model_id, model_store_dir):
    pinned = _register(sqlite_client, logged_model_id)
    version = sqlite_client.get_model_version(pinned.name, pinned.version)
    stored = compute_manifest(model_store_dir)
    assert decode_manifest(version.tags[tag_names.MANIFEST]) == stored
    assert {"MLmodel", "model.skops"} <= set(stored)
    assert version.tags[tag_names.METRIC_PREFIX + "accuracy"] == "0.96"
    assert version.tags[tag_names.DATASET_FINGERPRINT] == "f" * 64
    assert version.tags[tag_names.SWEEP_ID] == "sweep-1"
    assert version.tags[tag_names.TRIAL_ID] == "trial-a"
    assert version.tags[tag_names.LOGGED_MODEL_ID] == logged_model_id
    assert version.run_id == sqlite_client.get_logged_model(logged_model_id).source_run_id


def test_resolve_pins_versions_and_aliases(sqlite_client, logged_model_id):
    pinned = _register(sqlite_client, logged_model_id)
    sqlite_client.set_registered_model_alias("iris", "champion", pinned.version)
    assert resolve(f"models:/iris/{pinned.version}", client=sqlite_client) == pinned
    assert resolve(f"iris/{pinned.version}", client=sqlite_client) == pinned
    assert resolve("models:/iris@champion", client=sqlite_client) == pinned
    assert resolve("iris@champion", client=sqlite_client) == pinned


def test_resolve_names_what_is_missing(sqlite_client, logged_model_id):
    _register(sqlite_client, logged_model_id)
    with pytest.raises(AliasNotFoundError, match=r"^Model 'iris' has no alias 'nobody'$"):
        resolve("iris@nobody", client=sqlite_client)
    with pytest.raises(VersionNotFoundError, match=r"^Model 'iris' has no version '999'$"):
        resolve("iris/999", client=sqlite_client)
    with pytest.raises(ModelNotFoundError, match=r"^Model 'ghost' is not registered$"):
        resolve("ghost/1", client=sqlite_client)
    with pytest.raises(ModelNotFoundError, match=r"^Model 'ghost' is not registered$"):
        resolve("ghost@champion", client=sqlite_client)


def test_register_unknown_logged_model(sqlite_client):
    with pytest.raises(LoggedModelNotFoundError, match=r"^Logged model 'm-00000000' not found$"):
        _register(sqlite_client, "m-00000000")


def test_download_verified_returns_a_loadable_model(sqlite_client, logged_model_id, tmp_path):
    pinned = _register(sqlite_client, logged_model_id)
    model_dir = download_verified(pinned, tmp_path, client=sqlite_client)
    assert model_dir == tmp_path / f"iris-v{pinned.version}"
    assert [p.name for p in tmp_path.iterdir()] == [model_dir.name]
    model = mlflow.sklearn.load_model(str(model_dir))
    assert hasattr(model, "predict_proba")
    assert verify(pinned, client=sqlite_client).ok


def test_one_changed_byte_fails_verification_naming_the_file(
    sqlite_client, logged_model_id, tamperable_store, tmp_path
):
    pinned = _register(sqlite_client, logged_model_id)
    mlmodel = tamperable_store / "MLmodel"
    data = bytearray(mlmodel.read_bytes())
    data[-1] ^= 0x01
    mlmodel.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as info:
        download_verified(pinned, tmp_path / "dst", client=sqlite_client)
    assert str(info.value) == f"Model iris/{pinned.version} failed digest verification: MLmodel sha256 mismatch"
    assert info.value.status_code == 409
    assert list((tmp_path / "dst").iterdir()) == []  # nothing loadable left behind
    assert verify(pinned, client=sqlite_client).problems == ["MLmodel sha256 mismatch"]


def test_missing_and_extra_files_fail_verification(sqlite_client, logged_model_id, tamperable_store, tmp_path):
    pinned = _register(sqlite_client, logged_model_id)
    (tamperable_store / "conda.yaml").unlink()
    (tamperable_store / "sitecustomize.py").write_text("import os\n")
    with pytest.raises(DigestMismatchError) as info:
        download_verified(pinned, tmp_path / "dst", client=sqlite_client)
    assert str(info.value) == (
        f"Model iris/{pinned.version} failed digest verification: conda.yaml missing; sitecustomize.py not in manifest"
    )


def test_version_without_manifest_is_refused(sqlite_client, logged_model_id, tmp_path):
    version = sqlite_client.create_model_version("iris", source=f"models:/{logged_model_id}", model_id=logged_model_id)
    pinned = PinnedVersion(name="iris", version=str(version.version))
    message = (
        f"Model iris/{pinned.version} has no digest manifest (tag 'rayship.manifest'); "
        "register it with rayship before verifying or loading it"
    )
    with pytest.raises(ManifestMissingError) as info:
        download_verified(pinned, tmp_path, client=sqlite_client)
    assert str(info.value) == message
    with pytest.raises(ManifestMissingError):
        verify(pinned, client=sqlite_client)


def test_unreachable_server_fails_after_a_bounded_retry(monkeypatch):
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setattr("registry.connection.time.sleep", lambda _s: None)
    with pytest.raises(RegistryUnavailableError) as info:
        connect("http://127.0.0.1:9")
    assert str(info.value).startswith("MLflow at http://127.0.0.1:9 is unreachable after 3 attempts: ")
    assert info.value.status_code == 503


def test_download_reuses_an_intact_copy_and_replaces_a_tampered_one(sqlite_client, logged_model_id, tmp_path):
    pinned = _register(sqlite_client, logged_model_id)
    first = download_verified(pinned, tmp_path, client=sqlite_client)
    marker = first / "MLmodel"
    inode = marker.stat().st_ino
    assert download_verified(pinned, tmp_path, client=sqlite_client) == first
    assert marker.stat().st_ino == inode  # intact copy kept, not rewritten under a loading replica
    marker.write_text("tampered locally")
    again = download_verified(pinned, tmp_path, client=sqlite_client)
    assert again == first
    assert compute_manifest(again) == decode_manifest(
        sqlite_client.get_model_version(pinned.name, pinned.version).tags[tag_names.MANIFEST]
    )


def test_extra_tags_cannot_overwrite_the_manifest(sqlite_client, logged_model_id, model_store_dir):
    pinned = register(
        "iris",
        logged_model_id,
        metrics={},
        dataset_fingerprint="f" * 64,
        sweep_id="s",
        trial_id="t",
        extra_tags={tag_names.MANIFEST: "{}"},
        client=sqlite_client,
    )
    tags = sqlite_client.get_model_version(pinned.name, pinned.version).tags
    assert decode_manifest(tags[tag_names.MANIFEST]) == compute_manifest(model_store_dir)
