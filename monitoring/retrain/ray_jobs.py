"""Submitting retraining jobs to the local cluster through the Ray Jobs API (the dashboard, with the cluster token)."""

from __future__ import annotations

import shlex

from monitoring.errors import JobRunnerUnavailableError, RetrainJobNotFoundError
from monitoring.retrain.jobs import JobRequest, JobView


class RayJobRunner:
    """`JobSubmissionClient` against the dashboard; a client is made per call, so a dashboard restart is survived."""

    def __init__(self, dashboard_url: str, token: str | None) -> None:
        self.dashboard_url = dashboard_url
        self.where = f"Ray Jobs at {dashboard_url}"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def submit(self, request: JobRequest) -> bool:
        client = self._client()
        try:
            client.submit_job(
                entrypoint=shlex.join(request.entrypoint),
                submission_id=request.submission_id,
                metadata=request.metadata,
            )
        except RuntimeError as exc:
            if "already exists" in str(exc):
                return False
            raise JobRunnerUnavailableError(self.where, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - requests' connection errors and the like: the API is not there
            raise JobRunnerUnavailableError(self.where, f"{type(exc).__name__}: {exc}") from None
        return True

    def view(self, submission_id: str) -> JobView:
        client = self._client()
        try:
            info = client.get_job_info(submission_id)
        except RuntimeError as exc:
            if "404" in str(exc) or "does not exist" in str(exc):
                raise RetrainJobNotFoundError(submission_id, self.where) from None
            raise JobRunnerUnavailableError(self.where, str(exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise JobRunnerUnavailableError(self.where, f"{type(exc).__name__}: {exc}") from None
        return JobView(submission_id=submission_id, state=str(info.status.value), message=info.message)

    def logs(self, submission_id: str) -> str:
        try:
            return self._client().get_job_logs(submission_id)
        except Exception as exc:  # noqa: BLE001
            raise JobRunnerUnavailableError(self.where, f"{type(exc).__name__}: {exc}") from None

    def _client(self):
        from ray.job_submission import JobSubmissionClient

        try:
            return JobSubmissionClient(self.dashboard_url, headers=self._headers)
        except Exception as exc:  # noqa: BLE001 - the constructor probes the dashboard
            raise JobRunnerUnavailableError(self.where, f"{type(exc).__name__}: {exc}") from None
