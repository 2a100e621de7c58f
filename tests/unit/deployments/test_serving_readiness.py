"""Which version apps the gateway treats as ready, read from the controller's instance details (no Ray needed)."""

from __future__ import annotations

import asyncio

from ray.serve._private.common import ReplicaState

from deployments.gateway.caller import ServeVersionCaller, running_replicas
from deployments.traffic_policy import GatewayConfig


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


def test_a_policy_routes_to_its_weighted_versions_and_its_shadow_target_only() -> None:
    def route(version: str, weight: int, model: str = "iris") -> dict:
        return {"version": version, "app": f"{model}-v{version}", "weight": weight}

    config = GatewayConfig.model_validate(
        {
            "models": {
                "iris": {
                    "versions": [route("1", 100), route("2", 0), route("3", 0)],
                    "shadow": {"version": "2", "percent": 5},
                },
                "wine": {
                    "versions": [route("7", 100, "wine"), route("8", 0, "wine")],
                    "shadow": {"version": "8", "percent": 0},
                },
            }
        }
    )
    assert config.routed_apps() == {"iris-v1", "iris-v2", "wine-v7"}


class ControllerDetails:
    """Stands in for the Serve controller's details call: counts reads, answers the apps given RUNNING replicas."""

    def __init__(self, *running: str) -> None:
        self.running, self.reads, self.down = list(running), 0, False

    def __call__(self) -> dict:
        if self.down:
            raise ConnectionError("controller restarting")
        self.reads += 1
        return {"applications": {name: app("ModelVersion", ReplicaState.RUNNING) for name in self.running}}


def test_a_new_policy_re_reads_readiness_only_when_it_routes_to_an_app_not_yet_seen_ready() -> None:
    controller = ControllerDetails("iris-v1")
    caller = ServeVersionCaller(timeout_s=1.0, read_details=controller)
    asyncio.run(caller.refresh())
    assert (caller.is_ready("iris-v1"), caller.is_ready("iris-v2"), controller.reads) == (True, False, 1)
    asyncio.run(caller.refresh_unless_ready({"iris-v1"}))
    assert controller.reads == 1  # everything routed to is ready: no controller call
    controller.running.append("iris-v2")  # the candidate came up since the last poll
    asyncio.run(caller.refresh_unless_ready({"iris-v1", "iris-v2"}))
    assert (caller.is_ready("iris-v2"), controller.reads) == (True, 2)


def test_a_failing_controller_leaves_the_previous_readiness_view() -> None:
    controller = ControllerDetails("iris-v1")
    caller = ServeVersionCaller(timeout_s=1.0, read_details=controller)
    asyncio.run(caller.refresh())
    controller.down = True
    asyncio.run(caller.refresh_unless_ready({"iris-v2"}))
    assert (caller.is_ready("iris-v1"), caller.is_ready("iris-v2")) == (True, False)
