"""The interface every traffic router implements (Flagger's three-method `Router`, for Ray Serve).

A router moves whole Serve configs; what changes inside them is decided by the pure transforms in
`rollout.serve_edits`. Implementations: the Serve REST API on the dashboard, and KubeRay's RayService.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

# Application statuses as Ray Serve reports them (`ray.serve.schema.ApplicationStatus`).
RUNNING = "RUNNING"
DEPLOYING = "DEPLOYING"
DEPLOY_FAILED = "DEPLOY_FAILED"
UNHEALTHY = "UNHEALTHY"
DELETING = "DELETING"
NOT_STARTED = "NOT_STARTED"


@runtime_checkable
class Router(Protocol):
    def read_config(self) -> dict:
        """The live Serve deploy config: `{"applications": [...], ...}` as `configs/serve.yaml` has it."""
        ...

    def write_config(self, config: dict, wait_for: list[str]) -> None:
        """Apply `config` and return once every app named in `wait_for` is RUNNING; raise a rollout error
        naming the app when one fails to deploy or does not become RUNNING in time."""
        ...

    def app_statuses(self) -> dict[str, str]:
        """Application name -> Serve status (RUNNING, DEPLOYING, DEPLOY_FAILED, UNHEALTHY, ...)."""
        ...
