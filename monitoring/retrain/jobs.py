"""Retraining jobs: what the trigger asks for, what it reads back, and the one interface both runners implement.

A runner submits a job under a submission id the trigger derives from the alert window, so submitting the same
window twice finds the first job instead of starting a second. The local runner talks to the Ray dashboard's Jobs
API; on KubeRay the runner creates a `RayJob` (`monitoring/retrain/kuberay_jobs.py`).
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field

from monitoring.contract import Strict

JobState = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"]
TERMINAL_STATES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


class JobRequest(Strict):
    """One retraining run to start."""

    submission_id: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Deterministic id of the alert window (a DNS-1123 label, so it can name a RayJob too).",
    )
    entrypoint: list[str] = Field(min_length=1, description="The driver's argv, e.g. python -m training sweep ...")
    metadata: dict[str, str] = Field(default_factory=dict, description="Recorded with the job: model, alert, ...")


class JobView(Strict):
    """Where a submitted job stands."""

    submission_id: str = Field(description="The id it was submitted under.")
    state: JobState = Field(description="Ray's job state (KubeRay's jobStatus uses the same names).")
    message: str | None = Field(None, description="Why it ended as it did, when the runner says.")


class JobRunner(Protocol):
    """Starts retraining jobs and reports on them."""

    where: str  # how status lines name the runner: "Ray Jobs at http://127.0.0.1:8265", "RayJob in ns rayship"

    def submit(self, request: JobRequest) -> bool:
        """Start the job; False when a job with this submission id already exists (nothing new is started)."""
        ...

    def view(self, submission_id: str) -> JobView:
        """The job's state; raises `monitoring.errors.RetrainJobNotFoundError` for an unknown id."""
        ...
