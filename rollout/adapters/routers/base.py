"""The interface every traffic router implements, in the rollout's own terms (as Flagger's `SetRoutes`), and its
one implementation over a router's two wire operations.

A router adds a version's app, sets a model's routes, removes a version, and tells what is applied. What each verb
changes in the Serve config is decided once, by the pure edits of `rollout.serve_edits`; a router only moves whole
configs (`read_config`, `write_config`) and reads app statuses: the Serve REST API on the dashboard, or KubeRay's
RayService. Two phases (docs/design.md, decision 2): `add_version` returns once the version's app is RUNNING, and
only then can a split give it weight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

from deployments.app_config import GATEWAY_APP
from rollout.effects import Routes
from rollout.live_config import LiveConfig, live_config_dict, parse_app, parse_live_config
from rollout.serve_edits import with_routes, with_version, without_version

# Application statuses as Ray Serve reports them (`ray.serve.schema.ApplicationStatus`).
RUNNING = "RUNNING"
DEPLOYING = "DEPLOYING"
DEPLOY_FAILED = "DEPLOY_FAILED"
UNHEALTHY = "UNHEALTHY"
DELETING = "DELETING"
NOT_STARTED = "NOT_STARTED"


@runtime_checkable
class Router(Protocol):
    def applied(self) -> LiveConfig:
        """The live Serve config and the gateway's policy, parsed."""
        ...

    def app_statuses(self) -> dict[str, str]:
        """Application name -> Serve status (RUNNING, DEPLOYING, DEPLOY_FAILED, UNHEALTHY, ...)."""
        ...

    def add_version(self, model: str, version: str, app: dict[str, Any]) -> None:
        """Run the version's app (its entry in the Serve config) and list the version at weight 0; return once
        the app and the gateway are RUNNING, raise a rollout error naming the app when it fails to start."""
        ...

    def set_routes(self, model: str, routes: Routes) -> None:
        """Give the model this split, mirroring and failover target; return once the gateway is RUNNING."""
        ...

    def remove_version(self, model: str, version: str, app_name: str) -> None:
        """Drop a version at weight 0 from the model's policy and delete its app."""
        ...


class ServeConfigRouter(ABC):
    """The router verbs over whole-config reads and writes; subclasses do the I/O."""

    @abstractmethod
    def read_config(self) -> dict[str, Any]:
        """The live Serve deploy config: `{"applications": [...], ...}` as `configs/serve.yaml` has it."""

    @abstractmethod
    def write_config(self, config: dict[str, Any], wait_for: list[str]) -> None:
        """Apply `config` and return once every app named in `wait_for` is RUNNING; raise a rollout error
        naming the app when one fails to deploy or does not become RUNNING in time."""

    @abstractmethod
    def app_statuses(self) -> dict[str, str]: ...

    def applied(self) -> LiveConfig:
        return parse_live_config(self.read_config())

    def add_version(self, model: str, version: str, app: dict[str, Any]) -> None:
        parsed = parse_app(app)
        self._write(with_version(self.applied(), model, version, parsed), [parsed.name, GATEWAY_APP])

    def set_routes(self, model: str, routes: Routes) -> None:
        self._write(with_routes(self.applied(), model, routes), [GATEWAY_APP])

    def remove_version(self, model: str, version: str, app_name: str) -> None:
        self._write(without_version(self.applied(), model, version, app_name), [GATEWAY_APP])

    def _write(self, config: LiveConfig, wait_for: list[str]) -> None:
        self.write_config(live_config_dict(config), wait_for)
