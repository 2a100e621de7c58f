"""The registry side of the loop: cycles kept on the registered model, and the versions and verdicts they made.

Each cycle is one registered-model tag `rayship.retrain.<id>` holding its JSON, rewritten as it advances: the
model's lineage shows every alert, job, run, version, rollout and verdict without a store of rayship's own.
"""

from __future__ import annotations

from mlflow import MlflowClient
from pydantic import ValidationError

from monitoring.retrain.cycle import Cycle
from registry import tags
from registry.api import resolve
from registry.connection import mlflow_errors
from registry.errors import AliasNotFoundError
from registry.lookup import get_registered_model


def load_cycles(client: MlflowClient, model: str) -> list[Cycle]:
    """Every cycle of `model`, oldest first; a tag that does not parse is skipped (it was edited by hand)."""
    with mlflow_errors(f"read the retraining cycles of model '{model}'", client):
        model_tags = get_registered_model(client, model).tags or {}
    cycles = []
    for key, value in model_tags.items():
        if key.startswith(tags.RETRAIN_CYCLE_PREFIX):
            try:
                cycles.append(Cycle.model_validate_json(value))
            except ValidationError:
                continue
    return sorted(cycles, key=lambda cycle: cycle.started_at_s)


def save_cycle(client: MlflowClient, cycle: Cycle) -> None:
    with mlflow_errors(f"record retraining cycle '{cycle.id}'", client):
        client.set_registered_model_tag(
            cycle.alert.model, tags.RETRAIN_CYCLE_PREFIX + cycle.id, cycle.model_dump_json()
        )


def champion_version(client: MlflowClient, model: str, alias: str = "champion") -> str | None:
    try:
        return resolve(f"{model}@{alias}", client=client).version
    except AliasNotFoundError:
        return None


def version_of_cycle(client: MlflowClient, model: str, cycle_id: str) -> dict[str, str] | None:
    """The tags (and `version`) of the version the cycle's job registered, or None when it registered none."""
    query = f"name = '{model}' and tags.`{tags.RETRAINED_BY}` = '{cycle_id}'"
    with mlflow_errors(f"find the version of retraining cycle '{cycle_id}'", client):
        found = client.search_model_versions(query)
    if not found:
        return None
    version = max(found, key=lambda v: int(v.version))
    return {**(version.tags or {}), "version": str(version.version), "run_id": version.run_id or ""}
