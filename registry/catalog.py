"""Registry verbs beyond the serving seam: list models and versions, a model card, aliases, archiving and
unarchiving, the facts admission decides on (`registry.stages`)."""

from __future__ import annotations

from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from pydantic import BaseModel, ConfigDict, Field

from registry import tags
from registry.api import PinnedVersion
from registry.connection import connect, mlflow_errors
from registry.errors import AliasHeldError, AliasNotFoundError
from registry.lookup import get_registered_model, get_version
from registry.manifest import decode_manifest
from registry.stages import VersionFacts, is_archived
from registry.uri import validate_alias


class ModelSummary(BaseModel):
    """One registered model in `list`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    latest_version: str | None = Field(description="Highest version number, None when it has no versions.")
    aliases: dict[str, str] = Field(description="Alias -> version number.")
    description: str = Field(description="Free-text description, '' when unset.")


class ModelCard(BaseModel):
    """Everything rayship records about one version: metrics, lineage, gate verdict and digests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    version: str = Field(description="Version number as a string.")
    aliases: list[str] = Field(description="Aliases currently pointing at this version.")
    created_at: datetime = Field(description="When the version was registered (UTC).")
    source: str = Field(description="Where MLflow took the artifacts from (e.g. 'models:/m-...').")
    run_id: str | None = Field(description="MLflow run the model was logged in.")
    metrics: dict[str, float] = Field(description="Holdout metrics recorded at registration.")
    lineage: dict[str, str] = Field(
        description="Dataset fingerprint, sweep, trial, logged model, git commit, and the retraining cycle if any."
    )
    gate: str | None = Field(description="Validation gate verdict: passed, failed or off; None if never gated.")
    gate_reasons: str | None = Field(description="Why the gate passed or failed.")
    archived: bool = Field(description="True once archived: kept for history, never to be deployed.")
    digests: dict[str, str] | None = Field(description="sha256 manifest, relative path -> digest; None if absent.")

    @property
    def pinned(self) -> PinnedVersion:
        return PinnedVersion(name=self.name, version=self.version)


class AliasMove(BaseModel):
    """The result of setting an alias: where it pointed before and where it points now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    alias: str = Field(description="The alias moved.")
    previous_version: str | None = Field(description="Version it pointed at before; None if it was new.")
    version: str = Field(description="Version it points at now.")


_LINEAGE_TAGS = {
    "dataset_sha256": tags.DATASET_FINGERPRINT,
    "sweep_id": tags.SWEEP_ID,
    "trial_id": tags.TRIAL_ID,
    "run_id": tags.RUN_ID,
    "logged_model_id": tags.LOGGED_MODEL_ID,
    "git_commit": tags.GIT_COMMIT,
    "flavor": tags.FLAVOR,
    "retrained_by": tags.RETRAINED_BY,  # the retraining cycle (monitoring watch) that registered it
}


def list_models(client: MlflowClient | None = None) -> list[ModelSummary]:
    """Every registered model, sorted by name."""
    client = client or connect()
    with mlflow_errors("list registered models", client):
        models = _all_pages(lambda token: client.search_registered_models(max_results=200, page_token=token))
        return sorted((_summary(client, m) for m in models), key=lambda s: s.name)


def list_versions(name: str, client: MlflowClient | None = None) -> list[ModelCard]:
    """Cards of every version of `name`, newest first."""
    client = client or connect()
    with mlflow_errors(f"list versions of '{name}'", client):
        aliases = _aliases_by_version(get_registered_model(client, name).aliases)
        versions = _all_pages(
            lambda token: client.search_model_versions(f"name = '{_quote(name)}'", max_results=200, page_token=token)
        )
    return sorted((_card(v, aliases) for v in versions), key=lambda c: int(c.version), reverse=True)


def model_card(pinned: PinnedVersion, client: MlflowClient | None = None) -> ModelCard:
    """The card of one version."""
    client = client or connect()
    version = get_version(client, pinned.name, pinned.version)
    with mlflow_errors(f"read model '{pinned.name}'", client):
        aliases = _aliases_by_version(get_registered_model(client, pinned.name).aliases)
    return _card(version, aliases)


def set_alias(name: str, alias: str, version: str, client: MlflowClient | None = None) -> AliasMove:
    """Point `alias` at `name`/`version` (creating or moving it); the version must exist."""
    validate_alias(alias)
    client = client or connect()
    get_version(client, name, version)
    with mlflow_errors(f"set alias '{alias}' of '{name}'", client):
        previous = get_registered_model(client, name).aliases.get(alias)
        client.set_registered_model_alias(name, alias, version)
    return AliasMove(
        name=name, alias=alias, previous_version=None if previous is None else str(previous), version=str(version)
    )


def delete_alias(name: str, alias: str, client: MlflowClient | None = None) -> str:
    """Remove `alias` from `name`; returns the version it pointed at."""
    client = client or connect()
    with mlflow_errors(f"delete alias '{alias}' of '{name}'", client):
        aliases = get_registered_model(client, name).aliases
        if alias not in aliases:
            raise AliasNotFoundError(name, alias)
        client.delete_registered_model_alias(name, alias)
    return str(aliases[alias])


def set_model_tag(name: str, key: str, value: str, client: MlflowClient | None = None) -> None:
    """Set one tag on the registered model `name` (not on a version); the model must exist."""
    client = client or connect()
    with mlflow_errors(f"tag model '{name}'", client):
        get_registered_model(client, name)
        client.set_registered_model_tag(name, key, value)


def model_tag(name: str, key: str, client: MlflowClient | None = None) -> str | None:
    """One tag of the registered model `name`, or None when it has none of that key."""
    client = client or connect()
    with mlflow_errors(f"read the tags of model '{name}'", client):
        return (get_registered_model(client, name).tags or {}).get(key)


def archive(pinned: PinnedVersion, client: MlflowClient | None = None) -> ModelCard:
    """Mark a version archived (kept for lineage, never deployed); refused while an alias points at it."""
    client = client or connect()
    card = model_card(pinned, client)
    if card.aliases:
        raise AliasHeldError(pinned.name, pinned.version, card.aliases[0])
    with mlflow_errors(f"archive {pinned}", client):
        client.set_model_version_tag(pinned.name, pinned.version, tags.ARCHIVED, "true")
    return card.model_copy(update={"archived": True})


def unarchive(pinned: PinnedVersion, client: MlflowClient | None = None) -> bool:
    """Remove a version's archived tag, so it may be served, rolled out and promoted again; False when it was
    not archived (nothing changes)."""
    client = client or connect()
    if not model_card(pinned, client).archived:
        return False
    with mlflow_errors(f"unarchive {pinned}", client):
        client.delete_model_version_tag(pinned.name, pinned.version, tags.ARCHIVED)
    return True


def version_facts(pinned: PinnedVersion, client: MlflowClient | None = None) -> VersionFacts:
    """What `registry.stages` admits a version on: its aliases, archived tag and gate result."""
    card = model_card(pinned, client)
    return VersionFacts(
        name=card.name,
        version=card.version,
        aliases=card.aliases,
        archived=card.archived,
        gate=card.gate,
        gate_reasons=card.gate_reasons,
    )


def set_version_tags(pinned: PinnedVersion, version_tags: dict[str, str], client: MlflowClient | None = None) -> None:
    """Set tags on one existing version."""
    client = client or connect()
    get_version(client, pinned.name, pinned.version)
    with mlflow_errors(f"tag {pinned}", client):
        for key, value in version_tags.items():
            client.set_model_version_tag(pinned.name, pinned.version, key, value)


def _card(version: ModelVersion, aliases_by_version: dict[str, list[str]]) -> ModelCard:
    version_tags = version.tags or {}
    return ModelCard(
        name=version.name,
        version=str(version.version),
        aliases=aliases_by_version.get(str(version.version), []),
        created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
        source=version.source or "",
        run_id=version.run_id,
        metrics=tags.metrics_from_tags(version_tags),
        lineage={key: version_tags[tag] for key, tag in _LINEAGE_TAGS.items() if tag in version_tags},
        gate=version_tags.get(tags.GATE),
        gate_reasons=version_tags.get(tags.GATE_REASONS),
        archived=is_archived(version_tags),
        digests=_digests(version_tags),
    )


def _digests(version_tags: dict[str, str]) -> dict[str, str] | None:
    try:
        return decode_manifest(version_tags[tags.MANIFEST])
    except (KeyError, ValueError):
        return None


def _summary(client: MlflowClient, model) -> ModelSummary:
    versions = [int(v.version) for v in (model.latest_versions or [])]
    latest = max(versions) if versions else None
    return ModelSummary(
        name=model.name,
        latest_version=None if latest is None else str(latest),
        aliases={alias: str(v) for alias, v in sorted((model.aliases or {}).items())},
        description=model.description or "",
    )


def _aliases_by_version(aliases: dict[str, str]) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _all_pages(fetch) -> list:
    items, token = [], None
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
