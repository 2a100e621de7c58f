"""Reaching version apps through Serve handles, resolved lazily.

`serve.get_deployment_handle` raises for an app that does not exist yet, which is normal while a rollout adds a
version (DESIGN.md decision 2). So readiness comes from a background poll of `serve.status()` (an app is ready
while its `ModelVersion` deployment has a RUNNING replica), handles are built only for ready apps and without the
blocking existence check, and nothing here runs when the policy is applied.
"""

from __future__ import annotations

import asyncio
import logging

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle

from deployments.types import Features, ModelMetadata, Prediction, VersionError
from deployments.version_app import DEPLOYMENT_NAME
from registry.errors import UnavailableError

logger = logging.getLogger("ray.serve")

UNAVAILABLE = (RayActorError, BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError)


class VersionUnavailableError(UnavailableError):
    def __init__(self, app: str, reason: str) -> None:
        super().__init__(f"Serve app '{app}' is unavailable: {reason}")


def running_version_apps(status: serve.schema.ServeStatus) -> frozenset[str]:
    """Apps whose `ModelVersion` deployment has at least one RUNNING replica."""
    running = set()
    for name, app in status.applications.items():
        deployment = app.deployments.get(DEPLOYMENT_NAME)
        if deployment is not None and deployment.replica_states.get("RUNNING", 0) > 0:
            running.add(name)
    return frozenset(running)


class ServeVersionCaller:
    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._ready: frozenset[str] = frozenset()
        self._handles: dict[str, DeploymentHandle] = {}

    def set_timeout(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    def is_ready(self, app: str) -> bool:
        return app in self._ready

    async def refresh(self) -> None:
        status = await asyncio.to_thread(serve.status)  # a blocking controller call: keep it off the event loop
        self._ready = running_version_apps(status)

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
            handle = serve.get_deployment_handle(DEPLOYMENT_NAME, app, _check_exists=False, _record_telemetry=False)
            self._handles[app] = handle
        return handle

    async def predict(self, app: str, features: Features) -> Prediction | VersionError:
        return await self._call(app, "predict", features)

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
        except UNAVAILABLE as exc:
            raise VersionUnavailableError(app, type(exc).__name__) from exc
