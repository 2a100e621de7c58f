"""Router for KubeRay: reads and writes the RayService's `spec.serveConfigV2` through the Kubernetes API.

KubeRay owns the Serve config on Kubernetes: it re-applies `serveConfigV2` to the cluster on every reconcile, so a
change made through Serve's REST API would be undone. This router therefore changes the RayService object itself
(a JSON merge patch of `spec.serveConfigV2` only) and reads application statuses from
`status.activeServiceStatus.applicationStatuses`, which KubeRay copies from Serve. A serveConfigV2-only change is
applied in place on the active cluster (no new RayCluster), so version apps come and go without touching others.

The verbs are `ServeConfigRouter`'s; this module does the I/O. The `kubernetes.client.CustomObjectsApi` is
injected; `connect()` builds a real one from a kubeconfig.
"""

from __future__ import annotations

from typing import Any, Protocol

import yaml
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from rollout.adapters.routers.base import DEPLOY_FAILED, NOT_STARTED, RUNNING, UNHEALTHY, ServeConfigRouter
from rollout.clock import Clock, SystemClock
from rollout.errors import AppStartError, InvalidServeConfigV2Error, RayServiceNotFoundError, RouterUnavailableError

GROUP = "ray.io"
VERSION = "v1"
PLURAL = "rayservices"
MERGE_PATCH = "application/merge-patch+json"
# Same as the Serve REST router: an awaited app in one of these has failed, waiting longer will not help.
FAILED_STATUSES = (DEPLOY_FAILED, UNHEALTHY)


class CustomObjectsApi(Protocol):
    """The two `kubernetes.client.CustomObjectsApi` methods the router uses."""

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]: ...

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **kwargs: Any
    ) -> dict[str, Any]: ...


def serve_config_patch(config: dict) -> dict:
    """The merge-patch body that sets a RayService's `spec.serveConfigV2` to `config` (YAML, key order kept)."""
    if not isinstance(config, dict) or not isinstance(config.get("applications"), list):
        raise InvalidServeConfigV2Error("the new config", "it must be a mapping with an 'applications' list")
    return {"spec": {"serveConfigV2": yaml.safe_dump(config, sort_keys=False, default_flow_style=False)}}


def serve_config_of(rayservice: dict, where: str) -> dict:
    """The Serve config a RayService object embeds, parsed from `spec.serveConfigV2`."""
    text = rayservice.get("spec", {}).get("serveConfigV2")
    if not text:
        raise InvalidServeConfigV2Error(where, "the RayService has none")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidServeConfigV2Error(where, f"it is not valid YAML ({exc})") from exc
    if not isinstance(config, dict) or not isinstance(config.get("applications"), list):
        raise InvalidServeConfigV2Error(where, "it is not a mapping with an 'applications' list")
    return config


def app_statuses_of(rayservice: dict) -> dict[str, str]:
    """Application name -> status on the active cluster, as KubeRay reports it."""
    apps = rayservice.get("status", {}).get("activeServiceStatus", {}).get("applicationStatuses") or {}
    return {name: app.get("status", NOT_STARTED) for name, app in apps.items()}


def start_failure(rayservice: dict, generation: int, wait_for: list[str]) -> AppStartError | None:
    """The error for the first awaited app that failed (DEPLOY_FAILED, UNHEALTHY), once KubeRay has seen
    `generation`."""
    if not _observed(rayservice, generation):
        return None
    apps = rayservice.get("status", {}).get("activeServiceStatus", {}).get("applicationStatuses") or {}
    for name in wait_for:
        app = apps.get(name, {})
        if app.get("status") in FAILED_STATUSES:
            return AppStartError(name, app["status"], app.get("message", ""))
    return None


def not_running(rayservice: dict, generation: int, wait_for: list[str]) -> list[str]:
    """Awaited apps that are not RUNNING yet; all of them until KubeRay has reconciled `generation`."""
    if not _observed(rayservice, generation):
        return list(wait_for)
    statuses = app_statuses_of(rayservice)
    return [name for name in wait_for if statuses.get(name) != RUNNING]


def _observed(rayservice: dict, generation: int) -> bool:
    # Statuses older than our patch describe the previous config: an app could look RUNNING before its update.
    return rayservice.get("status", {}).get("observedGeneration", 0) >= generation


class RayServiceRouter(ServeConfigRouter):
    """`Router` over one RayService: whole Serve configs in and out, statuses from the RayService status."""

    def __init__(
        self,
        api: CustomObjectsApi,
        name: str,
        namespace: str,
        clock: Clock | None = None,
        timeout_s: float = 600.0,
        poll_interval_s: float = 5.0,
    ) -> None:
        self.api, self.name, self.namespace = api, name, namespace
        self.clock = clock or SystemClock()
        self.timeout_s, self.poll_interval_s = timeout_s, poll_interval_s
        self.where = f"RayService {namespace}/{name}"

    def read_config(self) -> dict:
        return serve_config_of(self._get(), self.where)

    def app_statuses(self) -> dict[str, str]:
        return app_statuses_of(self._get())

    def write_config(self, config: dict, wait_for: list[str]) -> None:
        """Patch `spec.serveConfigV2`, then wait until KubeRay reports every app of `wait_for` RUNNING."""
        patched = self._call(
            "patch",
            self.api.patch_namespaced_custom_object,
            body=serve_config_patch(config),
            _content_type=MERGE_PATCH,
        )
        self._wait(patched.get("metadata", {}).get("generation", 0), wait_for)

    def _wait(self, generation: int, wait_for: list[str]) -> None:
        deadline = self.clock.now() + self.timeout_s
        while True:
            rayservice = self._get()
            failure = start_failure(rayservice, generation, wait_for)
            if failure is not None:
                raise failure
            pending = not_running(rayservice, generation, wait_for)
            if not pending:
                return
            if self.clock.now() >= deadline:
                status = app_statuses_of(rayservice).get(pending[0], NOT_STARTED)
                raise AppStartError(pending[0], status, f"not RUNNING after {self.timeout_s:.0f} s on {self.where}")
            self.clock.sleep(self.poll_interval_s)

    def _get(self) -> dict:
        return self._call("get", self.api.get_namespaced_custom_object)

    def _call(self, verb: str, method: Any, **kwargs: Any) -> dict:
        target = dict(group=GROUP, version=VERSION, namespace=self.namespace, plural=PLURAL, name=self.name)
        try:
            return method(**target, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                raise RayServiceNotFoundError(self.name, self.namespace) from exc
            raise RouterUnavailableError(self.where, f"{verb} failed with HTTP {exc.status} {exc.reason}") from exc
        except (HTTPError, OSError) as exc:
            raise RouterUnavailableError(self.where, f"{verb} failed ({exc})") from exc


def connect(name: str, namespace: str, context: str | None = None, **router_options: Any) -> RayServiceRouter:
    """A router using the kubeconfig (or, inside a pod, the service account); needs RBAC get+patch on
    rayservices.ray.io in `namespace`."""
    from kubernetes import client, config

    try:
        config.load_kube_config(context=context)
    except config.ConfigException:
        config.load_incluster_config()
    return RayServiceRouter(client.CustomObjectsApi(), name, namespace, **router_options)
