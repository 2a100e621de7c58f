"""ServeRestRouter against an in-process fake of the dashboard's Serve REST API (httpx MockTransport)."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from rollout.adapters.routers.base import Router
from rollout.adapters.routers.serve_rest import ServeRestRouter, config_from_details
from rollout.errors import AppStartError, ImperativeAppError, RouterUnavailableError, ServeConfigRejectedError
from rollout.serve_edits import (
    find_app,
    policy_weights,
    version_app,
    with_policy_version,
    with_version_app,
    with_weights,
)

GATEWAY = {
    "name": "gateway",
    "route_prefix": "/",
    "import_path": "deployments.gateway.app:build_app",
    "deployments": [
        {
            "name": "Gateway",
            "user_config": {"models": {"iris": {"versions": [{"version": "1", "app": "iris-v1", "weight": 100}]}}},
        }
    ],
}
IRIS_V1 = {
    "name": "iris-v1",
    "route_prefix": None,
    "import_path": "deployments.version_app:build_app",
    "args": {"model_uri": "models:/iris/1"},
}
HTTP_OPTIONS = {"host": "127.0.0.1", "port": 38000, "root_path": "", "request_timeout_s": None}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeDashboard:
    """Serve's controller as the REST API shows it: a PUT stamps every app in it with a new deploy time and
    makes it DEPLOYING; it becomes RUNNING (or its `outcome`) after `polls_to_settle` GETs."""

    def __init__(self, polls_to_settle: int = 2) -> None:
        self.apps: dict[str, dict] = {}
        self.polls_to_settle = polls_to_settle
        self.outcomes: dict[str, str] = {}
        self.puts: list[dict] = []
        self.auth_headers: list[str | None] = []
        self.deploy_time = 1000.0
        self.reject_with: tuple[int, str] | None = None
        self.deploy({"proxy_location": "EveryNode", "http_options": HTTP_OPTIONS, "applications": [GATEWAY, IRIS_V1]})
        for app in self.apps.values():
            app["status"], app["polls"] = "RUNNING", 0

    def deploy(self, config: dict) -> None:
        self.deploy_time += 1
        self.http_options = config.get("http_options")
        names = [app["name"] for app in config["applications"]]
        self.apps = {name: app for name, app in self.apps.items() if name in names}
        for app_config in config["applications"]:
            self.apps[app_config["name"]] = {
                "config": copy.deepcopy(app_config),
                "status": "DEPLOYING",
                "polls": self.polls_to_settle,
                "last_deployed_time_s": self.deploy_time,
            }

    def details(self) -> dict:
        for name, app in self.apps.items():
            if app["polls"] > 0:
                app["polls"] -= 1
                if app["polls"] == 0:
                    app["status"] = self.outcomes.get(name, "RUNNING")
        return {
            "proxy_location": "EveryNode",
            "http_options": self.http_options,
            "grpc_options": {"port": 9000, "grpc_servicer_functions": []},
            "target_capacity": None,
            "applications": {
                name: {
                    "name": name,
                    "status": app["status"],
                    "message": "ModuleNotFoundError: No module named 'nope'\nTraceback ..."
                    if app["status"] == "DEPLOY_FAILED"
                    else "",
                    "last_deployed_time_s": app["last_deployed_time_s"],
                    "deployed_app_config": app["config"],
                    "deployments": {},
                }
                for name, app in self.apps.items()
            },
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.auth_headers.append(request.headers.get("authorization"))
        assert request.url.path == "/api/serve/applications/"
        if request.method == "GET":
            return httpx.Response(200, json=self.details())
        if self.reject_with is not None:
            return httpx.Response(self.reject_with[0], text=self.reject_with[1])
        body = json.loads(request.content)
        self.puts.append(body)
        self.deploy(body)
        return httpx.Response(200)


def router_for(dashboard: FakeDashboard, clock: FakeClock | None = None, timeout_s: float = 10) -> ServeRestRouter:
    client = httpx.Client(transport=httpx.MockTransport(dashboard.handle))
    return ServeRestRouter(
        "http://127.0.0.1:38265/",
        "tok",
        clock or FakeClock(),
        timeout_s=timeout_s,
        poll_interval_s=1,
        client=client,
    )


def test_is_a_router() -> None:
    assert isinstance(router_for(FakeDashboard()), Router)


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
    config = with_version_app(router.read_config(), version_app("iris", "2", find_app(router.read_config(), "iris-v1")))
    router.write_config(config, ["iris-v2"])
    assert [app["name"] for app in dashboard.puts[0]["applications"]] == ["gateway", "iris-v1", "iris-v2"]
    assert dashboard.puts[0]["http_options"] == HTTP_OPTIONS
    assert dashboard.apps["iris-v2"]["status"] == "RUNNING"
    assert clock.slept == [1, 1]


def test_a_running_status_from_before_the_write_does_not_count() -> None:
    dashboard, clock = FakeDashboard(polls_to_settle=2), FakeClock()
    router = router_for(dashboard, clock)
    dashboard.apps["gateway"]["status"] = "RUNNING"
    with_split = with_weights(with_version_app(router.read_config(), version_app("iris", "2")), "iris", {"1": 100})
    router.write_config(with_split, ["gateway"])
    assert clock.slept == [1]  # the first GET after the PUT shows DEPLOYING with the new stamp


def test_a_version_app_that_fails_to_deploy() -> None:
    dashboard = FakeDashboard()
    dashboard.outcomes["iris-v2"] = "DEPLOY_FAILED"
    router = router_for(dashboard)
    with pytest.raises(AppStartError) as caught:
        router.write_config(with_version_app(router.read_config(), version_app("iris", "2")), ["iris-v2"])
    assert str(caught.value) == (
        "Application 'iris-v2' did not start: DEPLOY_FAILED (ModuleNotFoundError: No module named 'nope')"
    )


def test_an_app_that_never_becomes_running() -> None:
    dashboard, clock = FakeDashboard(polls_to_settle=10**6), FakeClock()
    router = router_for(dashboard, clock, timeout_s=5)
    with pytest.raises(AppStartError) as caught:
        router.write_config(with_version_app(router.read_config(), version_app("iris", "2")), ["iris-v2"])
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


def test_a_weight_change_round_trips_only_the_gateway_user_config() -> None:
    dashboard = FakeDashboard()
    router = router_for(dashboard)
    added = with_version_app(router.read_config(), version_app("iris", "2"))
    router.write_config(added, ["iris-v2"])
    split = with_weights(with_policy_version(router.read_config(), "iris", "2"), "iris", {"1": 90, "2": 10})
    router.write_config(split, ["gateway"])
    live = router.read_config()
    assert policy_weights(live, "iris") == {"1": 90, "2": 10}
    assert find_app(live, "iris-v1") == IRIS_V1


def test_an_app_being_deleted_is_left_out_of_the_config() -> None:
    details = {
        "applications": {
            "gateway": {"status": "RUNNING", "deployed_app_config": GATEWAY},
            "iris-v2": {"status": "DELETING", "deployed_app_config": None},
        }
    }
    assert config_from_details(details) == {"applications": [GATEWAY]}
