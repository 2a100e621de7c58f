"""Which version apps the gateway treats as ready, read from the controller's instance details (no Ray needed)."""

from __future__ import annotations

from ray.serve._private.common import ReplicaState

from deployments.gateway.caller import running_version_apps


def app(deployment: str, *states: ReplicaState) -> dict:
    return {"deployments": {deployment: {"replicas": [{"state": state} for state in states]}}}


def test_an_app_is_ready_while_its_model_version_has_a_running_replica() -> None:
    details = {
        "applications": {
            "iris-v1": app("ModelVersion", ReplicaState.RUNNING, ReplicaState.RUNNING),
            "iris-v2": app("ModelVersion", ReplicaState.STARTING),
            "iris-v3": app("ModelVersion", ReplicaState.STOPPING, ReplicaState.RUNNING),  # a rolling batching update
            "iris-v4": app("ModelVersion"),
            "gateway": app("Gateway", ReplicaState.RUNNING),
        }
    }
    assert running_version_apps(details) == frozenset({"iris-v1", "iris-v3"})
    assert running_version_apps({"applications": {}}) == frozenset()
    assert running_version_apps({}) == frozenset()
