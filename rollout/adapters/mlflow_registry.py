"""`RolloutRegistry` over the MLflow model registry, through the `registry` package.

A verdict tags both versions (verdict, rollout id, the role each played); 'promoted' moves the alias `champion`
to the candidate and 'reverted' (an abort after promotion) moves it back. Every write is idempotent: the driver
may replay a verdict after `kill -9`.
"""

from __future__ import annotations

from collections.abc import Callable

from mlflow import MlflowClient

from registry.catalog import set_alias
from registry.connection import connect, mlflow_errors
from registry.lookup import get_version

CHAMPION_ALIAS = "champion"
VERDICT_TAG = "rayship.rollout.verdict"
ROLLOUT_ID_TAG = "rayship.rollout.id"
ROLE_TAG = "rayship.rollout.role"

# Which version holds the alias `champion` after each verdict; None leaves the alias alone.
_ALIAS_HOLDER: dict[str, str | None] = {"promoted": "candidate", "reverted": "champion"}


class MlflowRolloutRegistry:
    """Records rollout outcomes in MLflow; the client is made lazily (from MLFLOW_TRACKING_URI) unless given."""

    def __init__(self, client: MlflowClient | None = None, connect_client: Callable[[], MlflowClient] = connect):
        self._client = client
        self._connect_client = connect_client

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = self._connect_client()
        return self._client

    def record_outcome(self, model: str, champion: str, candidate: str, verdict: str, rollout_id: str) -> None:
        roles = {"champion": champion, "candidate": candidate}
        for version in (champion, candidate):
            get_version(self.client, model, version)  # a clear NotFound before any write
        for role, version in roles.items():
            self._tag(model, version, {VERDICT_TAG: verdict, ROLLOUT_ID_TAG: rollout_id, ROLE_TAG: role})
        holder = _ALIAS_HOLDER.get(verdict)
        if holder is not None:
            set_alias(model, CHAMPION_ALIAS, roles[holder], client=self.client)

    def _tag(self, model: str, version: str, tags: dict[str, str]) -> None:
        with mlflow_errors(f"tag version '{version}' of '{model}'", self.client):
            for key, value in tags.items():
                self.client.set_model_version_tag(model, version, key, value)
