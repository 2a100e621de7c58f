"""The retraining trigger's job runner against the live cluster's Jobs API, with the cluster token."""

from __future__ import annotations

import sys
import time
import uuid

import pytest

from cluster.settings import ClusterSettings
from monitoring.errors import JobRunnerUnavailableError, RetrainJobNotFoundError
from monitoring.retrain.jobs import TERMINAL_STATES, JobRequest, JobView
from monitoring.retrain.ray_jobs import RayJobRunner
from rayship.cluster_token import read_cluster_token


def finished(runner: RayJobRunner, submission_id: str, timeout_s: float = 120.0) -> JobView:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = runner.view(submission_id)
        if view.state in TERMINAL_STATES:
            return view
        time.sleep(1)
    raise AssertionError(f"job {submission_id} still {view.state} after {timeout_s:.0f} s")


@pytest.fixture
def runner(cluster: ClusterSettings) -> RayJobRunner:
    return RayJobRunner(cluster.dashboard_url, read_cluster_token())


def test_one_submission_id_starts_one_job_and_its_end_is_read_back(runner):
    request = JobRequest(
        submission_id=f"retrain-it-{uuid.uuid4().hex[:10]}",
        entrypoint=[sys.executable, "-c", "print('trained')"],
        metadata={"model": "iris"},
    )
    assert runner.submit(request) is True
    assert runner.submit(request) is False  # the same alert window again: the first job, not a second
    assert finished(runner, request.submission_id).state == "SUCCEEDED"
    assert "trained" in runner.logs(request.submission_id)


def test_a_failing_job_is_reported_failed_with_rays_message(runner):
    request = JobRequest(
        submission_id=f"retrain-it-{uuid.uuid4().hex[:10]}", entrypoint=[sys.executable, "-c", "raise SystemExit(3)"]
    )
    runner.submit(request)
    view = finished(runner, request.submission_id)
    assert view.state == "FAILED"
    assert "exit code 3" in (view.message or "")


def test_an_unknown_job_and_a_wrong_token_are_clear_errors(runner, cluster):
    with pytest.raises(RetrainJobNotFoundError) as unknown:
        runner.view("retrain-it-never-submitted")
    assert str(unknown.value) == (
        f"Retraining job 'retrain-it-never-submitted' is not known to Ray Jobs at {cluster.dashboard_url}"
    )
    with pytest.raises(JobRunnerUnavailableError) as refused:
        RayJobRunner(cluster.dashboard_url, "not-the-token").view("retrain-it-never-submitted")
    assert str(refused.value).startswith(f"Cannot reach Ray Jobs at {cluster.dashboard_url}: ")
