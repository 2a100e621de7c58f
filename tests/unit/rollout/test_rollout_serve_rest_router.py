"""ServeRestRouter against an in-process fake of the dashboard's Serve REST API (httpx MockTransport): its wire
behaviour. The contract it shares with the RayService router is tested once, in test_rollout_routers.py."""

from __future__ import annotations

import httpx
import pytest

from deployments.app_config import version_app
from rollout.adapters.routers.serve_rest import ServeRestRouter, config_from_details
from rollout.errors import AppStartError, ImperativeAppError, RouterUnavailableError, ServeConfigRejectedError
from tests.unit.rollout.serve_fakes import GATEWAY, HTTP_OPTIONS, IRIS_V1, FakeClock, FakeDashboard
from tests.unit.rollout.serve_fakes import rest_router as router_for


def with_candidate_app(config: dict) -> dict:
    """The config with iris-v2's app added (its weight untouched)."""
    return {**config, "applications": [*config["applications"], version_app("iris", "2")]}


def test_reads_the_deploy_config_back() -> None:
    dashboard = FakeDashboard()
    config = router_for(dashboard).read_config()
    assert config == {
        "proxy_location": "EveryNode",
        "http_options": HTTP_OPTIONS,
        "grpc_options": {"port": 9000, "grpc_servicer_functions": []},
        "applications": [GATEWAY, IRIS_V1],
    }
    assert dashboard.auth_headers == ["Bearer tok"]


def test_statuses() -> None:
    assert router_for(FakeDashboard()).app_statuses() == {"gateway": "RUNNING", "iris-v1": "RUNNING"}


def test_write_waits_for_the_new_deploy_to_be_running() -> None:
    dashboard, clock = FakeDashboard(polls_to_settle=3), FakeClock()
    router = router_for(dashboard, clock)
    router.write_config(with_candidate_app(router.read_config()), ["iris-v2"])
    assert [app["name"] for app in dashboard.puts[0]["applications"]] == ["gateway", "iris-v1", "iris-v2"]
    assert dashboard.puts[0]["http_options"] == HTTP_OPTIONS
    assert dashboard.apps["iris-v2"]["status"] == "RUNNING"
    assert clock.slept == [1, 1]


def test_a_running_status_from_before_the_write_does_not_count() -> None:
    dashboard, clock = FakeDashboard(polls_to_settle=2), FakeClock()
    router = router_for(dashboard, clock)
    dashboard.apps["gateway"]["status"] = "RUNNING"
    router.write_config(with_candidate_app(router.read_config()), ["gateway"])
    assert clock.slept == [1]  # the first GET after the PUT shows DEPLOYING with the new stamp


def test_a_version_app_that_fails_to_deploy() -> None:
    dashboard = FakeDashboard()
    dashboard.outcomes["iris-v2"] = "DEPLOY_FAILED"
    router = router_for(dashboard)
    with pytest.raises(AppStartError) as caught:
        router.write_config(with_candidate_app(router.read_config()), ["iris-v2"])
    assert str(caught.value) == (
        "Application 'iris-v2' did not start: DEPLOY_FAILED (ModuleNotFoundError: No module named 'nope')"
    )


def test_an_app_that_never_becomes_running() -> None:
    dashboard, clock = FakeDashboard(polls_to_settle=10**6), FakeClock()
    router = router_for(dashboard, clock, timeout_s=5)
    with pytest.raises(AppStartError) as caught:
        router.write_config(with_candidate_app(router.read_config()), ["iris-v2"])
    assert str(caught.value) == "Application 'iris-v2' did not start: DEPLOYING (not RUNNING after 5 s)"


def test_rejected_config() -> None:
    dashboard = FakeDashboard()
    dashboard.reject_with = (400, "ValidationError(model='ServeDeploySchema', errors=[...])\nmore")
    router = router_for(dashboard)
    with pytest.raises(ServeConfigRejectedError) as caught:
        router.write_config(router.read_config(), [])
    assert str(caught.value) == (
        "http://127.0.0.1:38265/api/serve/applications/ rejected the Serve config (HTTP 400): "
        "ValidationError(model='ServeDeploySchema', errors=[...])"
    )
    assert caught.value.status_code == 400


def test_unauthorized_or_down_is_unavailable() -> None:
    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text="Unauthorized: missing or invalid token")

    router = ServeRestRouter(
        "http://d", None, FakeClock(), client=httpx.Client(transport=httpx.MockTransport(unauthorized))
    )
    with pytest.raises(RouterUnavailableError) as caught:
        router.read_config()
    assert str(caught.value) == (
        "Cannot reach http://d/api/serve/applications/: GET failed with HTTP 401: "
        "Unauthorized: missing or invalid token"
    )
    assert caught.value.status_code == 503

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    router = ServeRestRouter("http://d", None, FakeClock(), client=httpx.Client(transport=httpx.MockTransport(refused)))
    with pytest.raises(RouterUnavailableError, match=r"GET failed \(ConnectError: Connection refused\)$"):
        router.app_statuses()


def test_an_imperatively_deployed_app_cannot_be_managed() -> None:
    details = {"applications": {"notebook": {"status": "RUNNING", "deployed_app_config": None}}}
    with pytest.raises(ImperativeAppError, match="^Application 'notebook' was deployed with serve.run"):
        config_from_details(details)


def test_an_app_being_deleted_is_left_out_of_the_config() -> None:
    details = {
        "applications": {
            "gateway": {"status": "RUNNING", "deployed_app_config": GATEWAY},
            "iris-v2": {"status": "DELETING", "deployed_app_config": None},
        }
    }
    assert config_from_details(details) == {"applications": [GATEWAY]}
