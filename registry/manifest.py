"""The sha256 manifest of a model's artifact files: computing it, encoding it as a tag, comparing two of them.

A manifest maps each file's POSIX path relative to the model directory to its hex sha256. Comparing is pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

_CHUNK_BYTES = 1 << 20

Manifest = dict[str, str]


class FileStatus(StrEnum):
    """The outcome of checking one file against the manifest."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    UNEXPECTED = "unexpected"


class FileCheck(BaseModel):
    """One file's expected and actual digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="POSIX path relative to the model directory, e.g. 'MLmodel'.")
    expected_sha256: str | None = Field(description="Digest recorded at registration; None for an unexpected file.")
    actual_sha256: str | None = Field(description="Digest of the downloaded file; None for a missing file.")
    status: FileStatus = Field(description="ok, mismatch, missing or unexpected.")

    @property
    def problem(self) -> str:
        """How this file fails verification, in the words error messages use."""
        return {
            FileStatus.OK: f"{self.path} ok",
            FileStatus.MISMATCH: f"{self.path} sha256 mismatch",
            FileStatus.MISSING: f"{self.path} missing",
            FileStatus.UNEXPECTED: f"{self.path} not in manifest",
        }[self.status]


def sha256_file(path: Path) -> str:
    """Hex sha256 of one file, read in chunks so large weights do not sit in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def compute_manifest(model_dir: Path) -> Manifest:
    """Digest every regular file under `model_dir`, keyed by its relative POSIX path, sorted."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    return {p.relative_to(model_dir).as_posix(): sha256_file(p) for p in files}


def compare_manifests(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[FileCheck]:
    """Check every file named by either manifest; the result is sorted by path."""
    checks = []
    for path in sorted(set(expected) | set(actual)):
        want, got = expected.get(path), actual.get(path)
        if want is None:
            status = FileStatus.UNEXPECTED
        elif got is None:
            status = FileStatus.MISSING
        else:
            status = FileStatus.OK if want == got else FileStatus.MISMATCH
        checks.append(FileCheck(path=path, expected_sha256=want, actual_sha256=got, status=status))
    return checks


def encode_manifest(manifest: Mapping[str, str]) -> str:
    """Compact, key-sorted JSON, so the same files always give the same tag value."""
    return json.dumps(dict(manifest), sort_keys=True, separators=(",", ":"))


def decode_manifest(text: str) -> Manifest:
    """Parse a tag value written by `encode_manifest`; raise ValueError if it is not a str -> str mapping."""
    value = json.loads(text)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError("manifest must be a JSON object of path -> sha256")
    return value
