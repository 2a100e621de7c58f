"""The registry seam: resolve a model URI to a pinned version, register a logged model with its digests,
download a version only after verifying it. MLflow exceptions become rayship errors here and nowhere else.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from pydantic import BaseModel, ConfigDict, Field

from registry import tags
from registry.connection import connect, mlflow_errors
from registry.errors import AliasNotFoundError, DigestMismatchError, ManifestMissingError, VersionFileExistsError
from registry.lookup import ensure_registered_model, get_logged_model, get_registered_model, get_version
from registry.manifest import FileCheck, FileStatus, compare_manifests, compute_manifest, decode_manifest
from registry.manifest import encode_manifest as _encode
from registry.uri import parse_model_uri


class PinnedVersion(BaseModel):
    """One immutable version of a registered model: what a deployment serves and reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name, e.g. 'iris'.")
    version: str = Field(description="Version number as a string, e.g. '3'.")

    @property
    def uri(self) -> str:
        """The MLflow URI of exactly this version, e.g. 'models:/iris/3'."""
        return f"models:/{self.name}/{self.version}"

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


class VerifyReport(BaseModel):
    """The result of recomputing every artifact digest of one version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    version: str = Field(description="Version number as a string.")
    files: list[FileCheck] = Field(description="One check per file named by the manifest or found in the download.")

    @property
    def ok(self) -> bool:
        """True when every file matches and none is missing or unexpected."""
        return all(check.status is FileStatus.OK for check in self.files)

    @property
    def problems(self) -> list[str]:
        """What is wrong, one phrase per failing file, e.g. 'MLmodel sha256 mismatch'."""
        return [check.problem for check in self.files if check.status is not FileStatus.OK]


def resolve(model_uri: str, client: MlflowClient | None = None) -> PinnedVersion:
    """Pin `models:/name/N`, `models:/name@alias`, `name@alias` or `name/N` to one existing version."""
    ref = parse_model_uri(model_uri)
    client = client or connect()
    if ref.version is not None:
        return _pin(get_version(client, ref.name, ref.version))
    with mlflow_errors(f"resolve {model_uri}", client):
        aliases = get_registered_model(client, ref.name).aliases
    if ref.alias not in aliases:
        raise AliasNotFoundError(ref.name, ref.alias)
    return PinnedVersion(name=ref.name, version=str(aliases[ref.alias]))


def register(
    name: str,
    model_id: str,
    *,
    metrics: Mapping[str, float],
    dataset_fingerprint: str,
    sweep_id: str,
    trial_id: str,
    extra_tags: Mapping[str, str] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    description: str | None = None,
    client: MlflowClient | None = None,
) -> PinnedVersion:
    """Register the logged model `model_id` (MLflow 3 `m-...`) as a new version of `name`.

    `extra_files` (name -> content, e.g. the reference profile) are added beside the model's files first, so the
    manifest covers them. The version is created with all its tags at once — the sha256 manifest of every
    artifact file as stored, the holdout metrics and the lineage — so no version ever exists without its manifest.
    """
    client = client or connect()
    model_id = model_id.removeprefix("models:/")
    logged = get_logged_model(client, model_id)
    for file_name, content in (extra_files or {}).items():
        _upload_model_file(client, model_id, file_name, content)
    with tempfile.TemporaryDirectory(prefix="rayship-register-") as tmp:
        manifest = compute_manifest(_download(client, logged.artifact_location, Path(tmp)))
    version_tags = {
        **dict(extra_tags or {}),  # first, so a caller's tag can never overwrite the manifest or lineage
        tags.MANIFEST: _encode(manifest),
        tags.DATASET_FINGERPRINT: dataset_fingerprint,
        tags.SWEEP_ID: sweep_id,
        tags.TRIAL_ID: trial_id,
        tags.LOGGED_MODEL_ID: model_id,
        **({tags.RUN_ID: logged.source_run_id} if logged.source_run_id else {}),
        **{tags.metric_tag(key): repr(float(value)) for key, value in metrics.items()},
    }
    with mlflow_errors(f"register model '{name}'", client):
        ensure_registered_model(client, name)
        created = client.create_model_version(
            name=name,
            source=f"models:/{model_id}",
            run_id=logged.source_run_id,
            tags=version_tags,
            description=description,
            model_id=model_id,
        )
    return _pin(created)


def add_version_file(pinned: PinnedVersion, file_name: str, content: bytes, client: MlflowClient | None = None) -> None:
    """Add one file beside a registered version's model files and record its digest in the version's manifest.

    The version is verified first (a tampered version gets no new file) and `file_name` must not exist yet; the
    manifest tag is rewritten only after the upload, so a failed upload leaves the version as it was."""
    client = client or connect()
    version = get_version(client, pinned.name, pinned.version)
    manifest = _manifest_of(version)
    if file_name in manifest:
        raise VersionFileExistsError(pinned.name, pinned.version, file_name)
    report = verify(pinned, client)
    if not report.ok:
        raise DigestMismatchError(pinned.name, pinned.version, report.problems)
    model_id = (version.tags or {}).get(tags.LOGGED_MODEL_ID) or version.model_id
    _upload_model_file(client, model_id, file_name, content)
    manifest[file_name] = hashlib.sha256(content).hexdigest()
    with mlflow_errors(f"record the digest of {file_name} on {pinned}", client):
        client.set_model_version_tag(pinned.name, pinned.version, tags.MANIFEST, _encode(manifest))


def _upload_model_file(client: MlflowClient, model_id: str, file_name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="rayship-file-") as tmp:
        local = Path(tmp) / file_name
        local.write_bytes(content)
        with mlflow_errors(f"upload {file_name} to logged model {model_id}", client):
            client.log_model_artifact(model_id, str(local))


def verify(pinned: PinnedVersion, client: MlflowClient | None = None) -> VerifyReport:
    """Download `pinned` to a scratch directory and check every file against its registration manifest."""
    client = client or connect()
    with tempfile.TemporaryDirectory(prefix="rayship-verify-") as tmp:
        return _download_and_check(client, pinned, Path(tmp))[1]


def download_verified(pinned: PinnedVersion, dst_dir: Path, client: MlflowClient | None = None) -> Path:
    """Download `pinned` under `dst_dir` and return the model directory, only if every digest matches.

    The download lands in a scratch directory first and is renamed into place after verification, so a failed
    or tampered download never leaves a loadable directory behind. Raises `DigestMismatchError` or
    `ManifestMissingError`.
    """
    client = client or connect()
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=dst_dir))
    try:
        model_dir, report = _download_and_check(client, pinned, scratch)
        if not report.ok:
            raise DigestMismatchError(pinned.name, pinned.version, report.problems)
        return _move_into_place(model_dir, dst_dir / _dir_name(pinned), report)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move_into_place(model_dir: Path, final: Path, report: VerifyReport) -> Path:
    """Rename the verified download to `final`. A copy already there that matches the same manifest is kept
    (another replica may be loading from it); anything else there is replaced."""
    expected = {check.path: check.expected_sha256 for check in report.files}
    if final.exists():
        if compute_manifest(final) == expected:
            return final
        shutil.rmtree(final)
    try:
        model_dir.rename(final)
    except OSError:
        # Lost a race with a concurrent download of the same version: accept its copy only if it verifies.
        if not (final.exists() and compute_manifest(final) == expected):
            raise
    return final


def _download_and_check(client: MlflowClient, pinned: PinnedVersion, scratch: Path) -> tuple[Path, VerifyReport]:
    version = get_version(client, pinned.name, pinned.version)
    manifest = _manifest_of(version)
    with mlflow_errors(f"find the artifacts of {pinned}", client):
        location = client.get_model_version_download_uri(pinned.name, pinned.version)
    model_dir = _download(client, location, scratch)
    checks = compare_manifests(manifest, compute_manifest(model_dir))
    return model_dir, VerifyReport(name=pinned.name, version=pinned.version, files=checks)


def _manifest_of(version: ModelVersion) -> dict[str, str]:
    text = (version.tags or {}).get(tags.MANIFEST)
    if not text:
        raise ManifestMissingError(version.name, str(version.version), tags.MANIFEST)
    try:
        return decode_manifest(text)
    except ValueError:
        raise DigestMismatchError(version.name, str(version.version), ["manifest tag is not valid JSON"]) from None


def _download(client: MlflowClient, artifact_uri: str, dst: Path) -> Path:
    # Download from the underlying location, not through `models:/name/N`: MLflow's models:/ repository adds a
    # `registered_model_meta` file to the download, which is not part of the registered artifacts.
    with mlflow_errors(f"download {artifact_uri}", client):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri, dst_path=str(dst), tracking_uri=client.tracking_uri
        )
    return Path(local)


def _dir_name(pinned: PinnedVersion) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", pinned.name)
    return f"{safe}-v{pinned.version}"


def _pin(version: ModelVersion) -> PinnedVersion:
    return PinnedVersion(name=version.name, version=str(version.version))
