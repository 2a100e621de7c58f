"""Reaching version apps through Serve handles, resolved lazily.

`serve.get_deployment_handle` raises for an app that does not exist yet, which is normal while a rollout adds a
version (docs/design.md, decision 2). So readiness comes from a background poll of the Serve controller's instance
details (an app is ready while its `ModelVersion` deployment has a RUNNING replica), handles are built only for
ready apps and without the blocking existence check, and nothing here runs when the policy is applied. Predictions
travel in natural batches (`deployments/gateway/batcher.py`) through the version app's `predict_many`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.context import _get_global_client
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle

from deployments.app_config import VERSION_DEPLOYMENT
from deployments.errors import VersionUnavailableError
from deployments.gateway.batcher import VersionBatcher
from deployments.types import Features, ModelMetadata, Prediction, VersionError

logger = logging.getLogger("ray.serve")

UNAVAILABLE = (RayActorError, BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError)


def running_replicas(details: Mapping[str, Any]) -> dict[str, int]:
    """RUNNING replicas of each app's `ModelVersion` deployment (apps with none left out), from the controller's
    instance details (the dict behind `serve.status()`, in the shape of `ray.serve.schema.ServeInstanceDetails`)."""
    running = {}
    for name, app in (details.get("applications") or {}).items():
        deployment = (app.get("deployments") or {}).get(VERSION_DEPLOYMENT)
        replicas = (deployment.get("replicas") or []) if deployment else []
        count = sum(1 for replica in replicas if replica.get("state") == "RUNNING")
        if count:
            running[name] = count
    return running


def _serve_details() -> dict:
    """Blocking. `serve.status()` rebuilds these details as pydantic models, which cost ~40x the controller call
    here (0.41 s against 0.011 s on a loaded 2-core machine); the gateway polls every second, so it reads them raw."""
    return _get_global_client().get_serve_details()


class ServeVersionCaller:
    def __init__(
        self,
        timeout_s: float,
        max_batch_size: int = 32,
        calls_per_replica: int = 1,
        read_details: Callable[[], Mapping[str, Any]] = _serve_details,
    ) -> None:
        self._timeout_s = timeout_s
        self._read_details = read_details
        self._replicas: dict[str, int] = {}
        self._handles: dict[str, DeploymentHandle] = {}
        self._batcher: VersionBatcher[Prediction | VersionError] = VersionBatcher(
            self._predict_many, self.replicas, max_batch_size, calls_per_replica
        )

    def configure(self, timeout_s: float, max_batch_size: int, calls_per_replica: int) -> None:
        self._timeout_s = timeout_s
        self._batcher.configure(max_batch_size, calls_per_replica)

    def is_ready(self, app: str) -> bool:
        return app in self._replicas

    def replicas(self, app: str) -> int:
        return self._replicas.get(app, 0)

    async def refresh(self) -> None:
        details = await asyncio.to_thread(self._read_details)  # a blocking controller call: off the event loop
        previous, self._replicas = self._replicas, running_replicas(details)
        for app in previous.keys() - self._replicas.keys():
            # Serve's handle would hold these until the deployment has a replica again (a killed replica's
            # replacement took 15 s here): fail them now, so the data plane fails them over.
            lost = self._batcher.abandon(app, VersionUnavailableError(app, "it has no running replica"))
            if lost:
                logger.warning("failed %d requests waiting on '%s': it has no running replica", lost, app)

    async def refresh_unless_ready(self, apps: Collection[str], timeout_s: float = 5.0) -> None:
        """Re-read readiness now when `apps` (those a new policy routes to) are not all ready in this view.

        The poll can be an interval behind the controller: a rollout step that routes to a version started a moment
        ago would otherwise see it "not ready" - a 503 counted against it, or a failover to the champion - until the
        next poll. Best effort: a slow or failing controller leaves the poll to catch up."""
        if all(app in self._replicas for app in apps):
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self.refresh()
        except Exception:
            logger.warning("could not re-read Serve status for a new policy; the poll catches up", exc_info=True)

    async def poll_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a controller hiccup must not stop the poll; the previous view stays
                logger.exception("could not read Serve status")
            await asyncio.sleep(interval_s)

    def _handle(self, app: str) -> DeploymentHandle:
        handle = self._handles.get(app)
        if handle is None:
            handle = serve.get_deployment_handle(VERSION_DEPLOYMENT, app, _check_exists=False, _record_telemetry=False)
            self._handles[app] = handle
        return handle

    async def predict(self, app: str, features: Features) -> Prediction | VersionError:
        """One request's answer; it travels in a batch with whatever else is waiting for the same app."""
        try:
            async with asyncio.timeout(self._timeout_s):  # covers the wait for a free slot too
                return await self._batcher.submit(app, features)
        except TimeoutError:
            raise VersionUnavailableError(app, f"no answer within {self._timeout_s} s") from None

    async def _predict_many(self, app: str, batch: list[Features]) -> list[Prediction | VersionError]:
        return await self._call(app, "predict_many", batch)

    async def metadata(self, app: str) -> ModelMetadata:
        return await self._call(app, "metadata")

    async def _call(self, app: str, method: str, *args: object):
        response = getattr(self._handle(app), method).remote(*args)
        try:
            async with asyncio.timeout(self._timeout_s):  # no extra task per request, unlike wait_for
                return await response
        except TimeoutError:
            response.cancel()
            raise VersionUnavailableError(app, f"no answer within {self._timeout_s} s") from None
        except asyncio.CancelledError:  # abandoned (see `refresh`) or shutting down: let Serve drop it too
            response.cancel()
            raise
        except UNAVAILABLE as exc:
            raise VersionUnavailableError(app, type(exc).__name__) from exc
