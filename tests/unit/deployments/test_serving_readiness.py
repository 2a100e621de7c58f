"""Which version apps the gateway treats as ready, read from a `serve.status()` snapshot (no Ray needed)."""

from __future__ import annotations

from ray.serve._private.common import DeploymentStatus, DeploymentStatusTrigger, ReplicaState
from ray.serve.schema import ApplicationStatus, ApplicationStatusOverview, DeploymentStatusOverview, ServeStatus

from deployments.gateway.caller import running_version_apps


def app(deployment: str, replicas: dict[ReplicaState, int], status: ApplicationStatus) -> ApplicationStatusOverview:
    overview = DeploymentStatusOverview(
        status=DeploymentStatus.HEALTHY,
        status_trigger=DeploymentStatusTrigger.UNSPECIFIED,
        replica_states=replicas,
        message="",
    )
    return ApplicationStatusOverview(
        status=status, message="", last_deployed_time_s=0.0, deployments={deployment: overview}
    )


def test_an_app_is_ready_while_its_model_version_has_a_running_replica() -> None:
    status = ServeStatus(
        applications={
            "iris-v1": app("ModelVersion", {ReplicaState.RUNNING: 2}, ApplicationStatus.RUNNING),
            "iris-v2": app("ModelVersion", {ReplicaState.STARTING: 1}, ApplicationStatus.DEPLOYING),
            "iris-v3": app("ModelVersion", {ReplicaState.RUNNING: 1}, ApplicationStatus.DEPLOYING),  # batching update
            "gateway": app("Gateway", {ReplicaState.RUNNING: 1}, ApplicationStatus.RUNNING),
        }
    )
    assert running_version_apps(status) == frozenset({"iris-v1", "iris-v3"})
    assert running_version_apps(ServeStatus()) == frozenset()
