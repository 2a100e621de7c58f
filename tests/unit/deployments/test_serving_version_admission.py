"""A version app refuses to load an archived version (`registry.stages.admit_for_serving`), before anything is
downloaded; the registry's calls are replaced, so no MLflow is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.errors import ModelLoadError
from deployments.version_app import VersionAppArgs, load_version
from registry import tags
from registry.api import PinnedVersion
from registry.errors import VersionArchivedError
from registry.stages import VersionFacts


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The version's tags as the registry would answer them, and the downloads asked for."""
    state = {"tags": {}, "downloads": []}

    def download_verified(pinned, target, client=None):
        state["downloads"].append(str(pinned))
        raise RuntimeError("no artifacts in this test")

    monkeypatch.setattr("registry.connection.connect", lambda tracking_uri=None: object())
    monkeypatch.setattr(
        "registry.api.resolve", lambda uri, client=None: PinnedVersion(name="iris", version=uri.rpartition("/")[2])
    )
    monkeypatch.setattr(
        "registry.catalog.version_facts",
        lambda pinned, client=None: VersionFacts.from_tags(pinned.name, pinned.version, state["tags"]),
    )
    monkeypatch.setattr("registry.api.download_verified", download_verified)
    return state


def test_an_archived_version_is_refused_before_its_download(registry, tmp_path: Path) -> None:
    registry["tags"] = {tags.ARCHIVED: "true", tags.GATE: "passed"}
    with pytest.raises(VersionArchivedError) as info:
        load_version(VersionAppArgs(model_uri="models:/iris/3"), tmp_path)
    assert str(info.value) == (
        "Model iris/3 is archived, so it cannot be served; unarchive it first: python -m registry unarchive iris/3"
    )
    assert registry["downloads"] == []


@pytest.mark.parametrize("version_tags", [{}, {tags.GATE: "failed"}, {tags.ARCHIVED: "false"}])
def test_any_other_version_goes_on_to_its_verified_download(registry, tmp_path: Path, version_tags) -> None:
    registry["tags"] = version_tags  # a gate-failed version is served: only a forced rollout deploys one
    with pytest.raises(ModelLoadError, match=r"^Cannot serve 'models:/iris/3': RuntimeError: no artifacts"):
        load_version(VersionAppArgs(model_uri="models:/iris/3"), tmp_path)
    assert registry["downloads"] == ["iris/3"]
