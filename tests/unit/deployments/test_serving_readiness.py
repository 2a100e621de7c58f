"""Which version apps the gateway treats as ready, read from the controller's instance details (no Ray needed)."""

from __future__ import annotations

from ray.serve._private.common import ReplicaState

from deployments.gateway.caller import running_replicas


def app(deployment: str, *states: ReplicaState) -> dict:
    return {"deployments": {deployment: {"replicas": [{"state": state} for state in states]}}}


def test_an_app_is_ready_while_its_model_version_has_running_replicas_and_they_are_counted() -> None:
    details = {
        "applications": {
            "iris-v1": app("ModelVersion", ReplicaState.RUNNING, ReplicaState.RUNNING),
            "iris-v2": app("ModelVersion", ReplicaState.STARTING),
            "iris-v3": app("ModelVersion", ReplicaState.STOPPING, ReplicaState.RUNNING),  # a rolling batching update
            "iris-v4": app("ModelVersion"),
            "gateway": app("Gateway", ReplicaState.RUNNING),
        }
    }
    assert running_replicas(details) == {"iris-v1": 2, "iris-v3": 1}
    assert running_replicas({"applications": {}}) == {}
    assert running_replicas({}) == {}
