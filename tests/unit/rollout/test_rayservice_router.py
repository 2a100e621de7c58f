"""RayServiceRouter against a fake CustomObjectsApi that behaves like the API server + KubeRay (no cluster)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from rollout.adapters.routers.base import Router
from rollout.adapters.routers.rayservice import RayServiceRouter, serve_config_patch
from rollout.errors import AppStartError, InvalidServeConfigV2Error, RayServiceNotFoundError, RouterUnavailableError
from rollout.serve_edits import (
    app_names,
    find_app,
    policy_weights,
    version_app,
    with_policy_version,
    with_version_app,
    with_weights,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
NAMESPACE, NAME = "rayship-dev", "rayship"
CONFIG = {
    "proxy_location": "EveryNode",
    "http_options": {"host": "0.0.0.0", "port": 8000},
    "applications": [
        {"name": "gateway", "route_prefix": "/", "import_path": "deployments.gateway.app:build_app", "args": {}},
        {"name": "iris-v1", "route_prefix": None, "import_path": "deployments.version_app:build_app"},
    ],
}
WITH_V2 = {**CONFIG, "applications": [*CONFIG["applications"], {"name": "iris-v2", "route_prefix": None}]}


def rendered_rayservice() -> dict[str, Any]:
    """The RayService exactly as `kuberay/` deploys it (dev overlay)."""
    docs = yaml.safe_load_all((REPO_ROOT / "kuberay" / "rendered" / "dev.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "RayService")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeCustomObjects:
    """Stores one RayService; a merge patch bumps metadata.generation like the API server does. Each get
    first applies the next scripted KubeRay status (observed generation offset + app statuses), if any."""

    def __init__(self, rayservice: dict[str, Any], statuses: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.obj = copy.deepcopy(rayservice)
        self.obj.setdefault("metadata", {})["generation"] = 3
        self.obj["status"] = {"observedGeneration": 3, "activeServiceStatus": {"applicationStatuses": {}}}
        self.script = list(statuses or [])
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None

    def get_namespaced_custom_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get", kwargs))
        if self.error:
            raise self.error
        if self.script:
            lag, apps = self.script.pop(0)
            self.obj["status"] = {
                "observedGeneration": self.obj["metadata"]["generation"] + lag,
                "activeServiceStatus": {
                    "applicationStatuses": {n: {"status": s, "message": f"{n} is {s}"} for n, s in apps.items()}
                },
            }
        return copy.deepcopy(self.obj)

    def patch_namespaced_custom_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("patch", kwargs))
        if self.error:
            raise self.error
        self.obj["spec"].update(kwargs["body"]["spec"])
        self.obj["metadata"]["generation"] += 1
        return copy.deepcopy(self.obj)


def router(api: FakeCustomObjects, clock: FakeClock | None = None) -> RayServiceRouter:
    return RayServiceRouter(api, NAME, NAMESPACE, clock=clock or FakeClock(), timeout_s=30, poll_interval_s=5)


def test_patch_sets_only_serve_config_v2_as_yaml_in_key_order() -> None:
    patch = serve_config_patch(CONFIG)

    assert list(patch) == ["spec"] and list(patch["spec"]) == ["serveConfigV2"]
    assert yaml.safe_load(patch["spec"]["serveConfigV2"]) == CONFIG
    assert patch["spec"]["serveConfigV2"].startswith("proxy_location: EveryNode\nhttp_options:\n")


def test_patch_rejects_a_config_without_applications() -> None:
    with pytest.raises(InvalidServeConfigV2Error) as err:
        serve_config_patch({"applications": {}})
    assert str(err.value) == "serveConfigV2 of the new config: it must be a mapping with an 'applications' list"


def test_it_is_a_router() -> None:
    assert isinstance(router(FakeCustomObjects(rendered_rayservice())), Router)


def test_reads_the_serve_config_kuberay_deploys() -> None:
    rayservice = rendered_rayservice()

    config = router(FakeCustomObjects(rayservice)).read_config()

    assert config == yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    assert config["http_options"]["host"] == "0.0.0.0"


def test_write_merge_patches_the_rayservice_and_reads_back_the_same_config() -> None:
    api = FakeCustomObjects(rendered_rayservice())
    rs_router = router(api)

    rs_router.write_config(WITH_V2, wait_for=[])

    verb, kwargs = api.calls[0]
    assert verb == "patch"
    assert kwargs["_content_type"] == "application/merge-patch+json"
    assert {k: kwargs[k] for k in ("group", "version", "plural", "namespace", "name")} == {
        "group": "ray.io",
        "version": "v1",
        "plural": "rayservices",
        "namespace": NAMESPACE,
        "name": NAME,
    }
    assert kwargs["body"] == serve_config_patch(WITH_V2)
    assert rs_router.read_config() == WITH_V2
    assert api.obj["spec"]["rayClusterConfig"] == rendered_rayservice()["spec"]["rayClusterConfig"]


def test_write_waits_until_kuberay_reports_the_new_app_running() -> None:
    clock = FakeClock()
    api = FakeCustomObjects(
        rendered_rayservice(),
        statuses=[
            (-1, {"gateway": "RUNNING"}),  # KubeRay has not reconciled the patch yet
            (0, {"gateway": "RUNNING", "iris-v2": "DEPLOYING"}),
            (0, {"gateway": "RUNNING", "iris-v2": "RUNNING"}),
        ],
    )

    router(api, clock).write_config(WITH_V2, wait_for=["iris-v2"])

    assert clock.slept == [5, 5]
    assert [verb for verb, _ in api.calls] == ["patch", "get", "get", "get"]


def test_statuses_older_than_the_patch_are_not_trusted() -> None:
    clock = FakeClock()
    api = FakeCustomObjects(
        rendered_rayservice(),
        statuses=[(-1, {"gateway": "RUNNING"}), (0, {"gateway": "RUNNING"})],
    )

    router(api, clock).write_config(CONFIG, wait_for=["gateway"])

    assert clock.slept == [5]


@pytest.mark.parametrize("status", ["DEPLOY_FAILED", "UNHEALTHY"])
def test_a_failed_app_raises_naming_it(status: str) -> None:
    api = FakeCustomObjects(rendered_rayservice(), statuses=[(0, {"gateway": "RUNNING", "iris-v2": status})])

    with pytest.raises(AppStartError) as err:
        router(api).write_config(WITH_V2, wait_for=["gateway", "iris-v2"])

    assert str(err.value) == f"Application 'iris-v2' did not start: {status} (iris-v2 is {status})"


def test_a_failure_reported_before_kuberay_saw_the_patch_is_ignored() -> None:
    clock = FakeClock()
    api = FakeCustomObjects(
        rendered_rayservice(), statuses=[(-1, {"iris-v2": "DEPLOY_FAILED"}), (0, {"iris-v2": "RUNNING"})]
    )

    router(api, clock).write_config(WITH_V2, wait_for=["iris-v2"])

    assert clock.slept == [5]


def test_an_app_that_never_runs_times_out() -> None:
    clock = FakeClock()
    api = FakeCustomObjects(rendered_rayservice(), statuses=[(0, {"iris-v2": "DEPLOYING"})] * 20)

    with pytest.raises(AppStartError) as err:
        router(api, clock).write_config(WITH_V2, wait_for=["iris-v2"])

    assert str(err.value) == (
        "Application 'iris-v2' did not start: DEPLOYING (not RUNNING after 30 s on RayService rayship-dev/rayship)"
    )
    assert clock.slept == [5] * 6


def test_app_statuses_come_from_the_active_cluster() -> None:
    api = FakeCustomObjects(rendered_rayservice(), statuses=[(0, {"gateway": "RUNNING", "iris-v1": "UNHEALTHY"})])

    assert router(api).app_statuses() == {"gateway": "RUNNING", "iris-v1": "UNHEALTHY"}


def test_a_missing_rayservice_is_not_found() -> None:
    api = FakeCustomObjects(rendered_rayservice())
    api.error = ApiException(status=404, reason="Not Found")

    with pytest.raises(RayServiceNotFoundError) as err:
        router(api).read_config()

    assert str(err.value) == "RayService 'rayship' not found in namespace 'rayship-dev'"
    assert err.value.status_code == 404


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ApiException(status=403, reason="Forbidden"),
            "Cannot reach RayService rayship-dev/rayship: patch failed with HTTP 403 Forbidden",
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            "Cannot reach RayService rayship-dev/rayship: patch failed ([Errno 111] Connection refused)",
        ),
    ],
)
def test_api_failures_are_router_unavailable(error: Exception, message: str) -> None:
    api = FakeCustomObjects(rendered_rayservice())
    api.error = error

    with pytest.raises(RouterUnavailableError) as err:
        router(api).write_config(CONFIG, wait_for=[])

    assert str(err.value) == message


def test_a_rayservice_without_serve_config_is_reported() -> None:
    rayservice = rendered_rayservice()
    del rayservice["spec"]["serveConfigV2"]

    with pytest.raises(InvalidServeConfigV2Error) as err:
        router(FakeCustomObjects(rayservice)).read_config()

    assert str(err.value) == "serveConfigV2 of RayService rayship-dev/rayship: the RayService has none"


def test_a_two_phase_canary_through_the_rayservice() -> None:
    """Add the candidate's app and wait for it, then shift weights: each write is one patch of serveConfigV2."""
    api = FakeCustomObjects(
        rendered_rayservice(),
        statuses=[(0, {"gateway": "RUNNING", "iris-v1": "RUNNING", "iris-v2": "RUNNING"})] * 4,
    )
    rs_router = router(api)
    live = rs_router.read_config()

    rs_router.write_config(with_version_app(live, version_app("iris", "2", find_app(live, "iris-v1"))), ["iris-v2"])
    added = rs_router.read_config()
    rs_router.write_config(with_weights(with_policy_version(added, "iris", "2"), "iris", {"1": 90, "2": 10}), [])

    final = rs_router.read_config()
    assert app_names(final) == ["gateway", "iris-v1", "iris-v2"]
    assert policy_weights(final, "iris") == {"1": 90, "2": 10}
    assert find_app(final, "iris-v1") == find_app(live, "iris-v1")
    assert api.obj["metadata"]["generation"] == 5
