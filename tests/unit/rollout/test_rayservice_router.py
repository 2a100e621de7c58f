"""RayServiceRouter against a fake CustomObjectsApi that behaves like the API server + KubeRay (no cluster): its wire
behaviour. The contract it shares with the Serve REST router is tested once, in test_rollout_routers.py."""

from __future__ import annotations

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from deployments.app_config import gateway_app, version_app
from rollout.adapters.routers.rayservice import serve_config_patch
from rollout.errors import AppStartError, InvalidServeConfigV2Error, RayServiceNotFoundError, RouterUnavailableError
from tests.unit.rollout.serve_fakes import (
    IRIS_POLICY,
    NAME,
    NAMESPACE,
    FakeClock,
    FakeCustomObjects,
    rendered_rayservice,
)
from tests.unit.rollout.serve_fakes import rayservice_router as router

CONFIG = {
    "proxy_location": "EveryNode",
    "http_options": {"host": "0.0.0.0", "port": 8000},
    "applications": [gateway_app(IRIS_POLICY), version_app("iris", "1")],
}
WITH_V2 = {**CONFIG, "applications": [*CONFIG["applications"], version_app("iris", "2")]}


def test_patch_sets_only_serve_config_v2_as_yaml_in_key_order() -> None:
    patch = serve_config_patch(CONFIG)

    assert list(patch) == ["spec"] and list(patch["spec"]) == ["serveConfigV2"]
    assert yaml.safe_load(patch["spec"]["serveConfigV2"]) == CONFIG
    assert patch["spec"]["serveConfigV2"].startswith("proxy_location: EveryNode\nhttp_options:\n")


def test_patch_rejects_a_config_without_applications() -> None:
    with pytest.raises(InvalidServeConfigV2Error) as err:
        serve_config_patch({"applications": {}})
    assert str(err.value) == "serveConfigV2 of the new config: it must be a mapping with an 'applications' list"


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
