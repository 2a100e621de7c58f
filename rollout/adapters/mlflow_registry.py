"""The rollout driver's `RolloutRegistry`, over the `registry` package's verdict verb (`registry.verdicts`)."""

from __future__ import annotations

from typing import Any

from registry.verdicts import record_verdict


class MlflowRolloutRegistry:
    """Records rollout outcomes in MLflow's registry; `client` (an `MlflowClient`) is made from MLFLOW_TRACKING_URI
    on each verdict unless given."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def record_outcome(self, model: str, champion: str, candidate: str, verdict: str, rollout_id: str) -> None:
        record_verdict(model, champion, candidate, verdict, rollout_id, client=self._client)
