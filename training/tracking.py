"""MLflow runs of a sweep: one parent run per sweep, one nested run per trial, and closing them honestly.

Trials log through `MlflowClient` (no fluent global state inside Ray workers). A trial stopped by ASHA or killed
by an interrupt never reaches its own `finish`, so the driver closes whatever is still RUNNING afterwards.
"""

from __future__ import annotations

import time
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from pydantic import BaseModel, ConfigDict, Field

from registry import tags as tag_names

PARENT_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
EARLY_STOPPED_TAG = "rayship.early_stopped"


class TrackingContext(BaseModel):
    """What a trial needs to log into the sweep's MLflow run tree; `tracking_uri=None` turns logging off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str | None = Field(description="MLflow tracking URI; None disables logging (benchmarks).")
    experiment_id: str = Field("", description="MLflow experiment id of the sweep.")
    sweep_run_id: str = Field("", description="Run id of the sweep's parent run; also the sweep id.")
    dataset_sha256: str = Field(description="Fingerprint of the dataset the trials train on.")
    git_commit: str = Field(description="Commit of the code that ran the sweep, or 'unknown'.")

    @property
    def enabled(self) -> bool:
        return self.tracking_uri is not None


def lineage_tags(context: TrackingContext) -> dict[str, str]:
    """Tags every run of the sweep carries."""
    return {
        tag_names.SWEEP_ID: context.sweep_run_id,
        tag_names.DATASET_FINGERPRINT: context.dataset_sha256,
        tag_names.GIT_COMMIT: context.git_commit,
        GIT_COMMIT_TAG: context.git_commit,
    }


class TrialRun:
    """The nested MLflow run of one trial (a no-op when logging is off)."""

    def __init__(self, client: MlflowClient | None, run_id: str | None) -> None:
        self._client, self.run_id = client, run_id

    @classmethod
    def start(cls, context: TrackingContext, trial_id: str, trial_name: str, params: dict[str, Any]) -> TrialRun:
        if not context.enabled:
            return cls(None, None)
        client = MlflowClient(tracking_uri=context.tracking_uri)
        tags = {**lineage_tags(context), PARENT_TAG: context.sweep_run_id, tag_names.TRIAL_ID: trial_id}
        run = client.create_run(context.experiment_id, tags=tags, run_name=trial_name)
        client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in sorted(params.items())])
        return cls(client, run.info.run_id)

    def log(self, step: int, scores: dict[str, float]) -> None:
        """Log one report's validation scores at `step` (one request per report)."""
        if self._client is None:
            return
        now = int(time.time() * 1000)
        metrics = [Metric(f"valid_{k}", v, now, step) for k, v in scores.items()]
        self._client.log_batch(self.run_id, metrics=metrics)

    def finish(self, status: str = "FINISHED") -> None:
        if self._client is not None:
            self._client.set_terminated(self.run_id, status)


def trial_runs(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> dict[str, Any]:
    """The sweep's trial runs keyed by Tune trial id."""
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{sweep_run_id}'", max_results=10_000
    )
    return {run.data.tags.get(tag_names.TRIAL_ID, run.info.run_id): run for run in runs}


def close_trial_runs(
    client: MlflowClient, experiment_id: str, sweep_run_id: str, status: str, errored: set[str]
) -> None:
    """End every trial run still RUNNING with `status` (FAILED for errored trials).

    A trial ASHA stopped early never returns from its last report, so it is still RUNNING here; with status
    FINISHED it ends normally and is tagged `rayship.early_stopped`.
    """
    for trial_id, run in trial_runs(client, experiment_id, sweep_run_id).items():
        if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
            continue
        final = "FAILED" if trial_id in errored else status
        if final == "FINISHED":
            client.log_batch(run.info.run_id, tags=[RunTag(EARLY_STOPPED_TAG, "true")])
        client.set_terminated(run.info.run_id, final)
