"""What a rollout leaves in the registry: both versions tagged with the verdict, the rollout id and the role each
played; 'promoted' moves the alias `champion` to the candidate and 'reverted' (an abort after a promotion) moves
it back. Every write is idempotent: a driver may replay a verdict after `kill -9`."""

from __future__ import annotations

from mlflow import MlflowClient

from registry import tags
from registry.catalog import set_alias
from registry.connection import connect, mlflow_errors
from registry.lookup import get_version
from registry.stages import PRODUCTION_ALIAS

CHAMPION_ALIAS = PRODUCTION_ALIAS  # the production stage (registry.stages)
# Which version holds the alias `champion` after each verdict; None leaves the alias alone.
_ALIAS_HOLDER: dict[str, str | None] = {"promoted": "candidate", "reverted": "champion"}


def record_verdict(
    name: str, champion: str, candidate: str, verdict: str, rollout_id: str, client: MlflowClient | None = None
) -> None:
    """Tag champion and candidate with a rollout's verdict and move the champion alias as the verdict says."""
    client = client or connect()
    roles = {"champion": champion, "candidate": candidate}
    for version in roles.values():
        get_version(client, name, version)  # both checked before any write
    for role, version in roles.items():
        verdict_tags = {tags.ROLLOUT_VERDICT: verdict, tags.ROLLOUT_ID: rollout_id, tags.ROLLOUT_ROLE: role}
        _set_tags(client, name, version, verdict_tags)
    holder = _ALIAS_HOLDER.get(verdict)
    if holder is not None:
        set_alias(name, CHAMPION_ALIAS, roles[holder], client=client)


def _set_tags(client: MlflowClient, name: str, version: str, version_tags: dict[str, str]) -> None:
    with mlflow_errors(f"tag version '{version}' of '{name}'", client):
        for key, value in version_tags.items():
            client.set_model_version_tag(name, version, key, value)
