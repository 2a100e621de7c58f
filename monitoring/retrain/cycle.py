"""One retraining cycle: the alert that started it and every step since, as the registry keeps it.

A cycle is the trigger's durable state. It is written to the registered model (tag `rayship.retrain.<id>`) before
each step's side effect, so a trigger that dies mid-cycle resumes it: resubmitting under the same id finds the job
already there, and a registered version is found again by its `rayship.retrained_by` tag.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from monitoring.contract import Strict

Stage = Literal["submitting", "running", "registered", "rolling_out", "done", "failed"]
Outcome = Literal["promoted", "rolled_back", "not_rolled_out", "gate_failed", "job_failed", "no_version"]


class AlertRef(Strict):
    """The firing alert a cycle answers: its window is (name, model, version, active_at_s)."""

    name: str = Field(description="Alert name, e.g. RayshipFeatureDriftHigh.")
    model: str = Field(description="Registered model name.")
    version: str = Field(description="The version it fired on (the champion).")
    active_at_s: float = Field(description="When Prometheus first saw the condition (Unix time, s).")
    value: float | None = Field(None, description="The expression's value when the trigger read it.")
    labels: dict[str, str] = Field(default_factory=dict, description="All of the alert's labels.")


class Step(Strict):
    """One line of a cycle's history."""

    at_s: float = Field(description="When it happened (Unix time, s).")
    step: str = Field(description="alert, submitted, job, registered, gate, rollout, verdict, error.")
    detail: str = Field(description="What happened, for a person.")


class Cycle(Strict):
    """Alert → Ray Job → registered version → gate → canary → verdict."""

    id: str = Field(description="Submission id of the job: derived from the alert window, so one window, one job.")
    alert: AlertRef = Field(description="The alert that started the cycle.")
    stage: Stage = Field(description="Where the cycle stands; done and failed are final.")
    started_at_s: float = Field(description="When the trigger decided to retrain (Unix time, s).")
    job_runner: str = Field(description="Where the job was submitted.")
    job_state: str | None = Field(None, description="Last job state read (PENDING ... SUCCEEDED, FAILED).")
    version: str | None = Field(None, description="The version the job registered.")
    run_id: str | None = Field(None, description="The sweep's MLflow run.")
    gate_passed: bool | None = Field(None, description="The champion gate's verdict on the new version.")
    rollout_id: str | None = Field(None, description="The canary's rollout id.")
    outcome: Outcome | None = Field(None, description="How the cycle ended.")
    steps: list[Step] = Field(default_factory=list, description="Every step, oldest first.")

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed")

    def advanced(self, at_s: float, step: str, detail: str, **changes: object) -> Cycle:
        """A copy with `changes` applied and the step appended."""
        steps = [*self.steps, Step(at_s=at_s, step=step, detail=detail)]
        return self.model_copy(update={**changes, "steps": steps})
