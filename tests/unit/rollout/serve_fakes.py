"""What the router tests stand on: the Serve configs they start from, fakes of the two backends (the dashboard's
Serve REST API, the Kubernetes API with KubeRay behind it), and one harness per router that drives its fake the
same way, so the contract both routers share is tested once (`harness` fixture in conftest.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from deployments.app_config import gateway_app, version_app
from rollout.adapters.routers.base import ServeConfigRouter
from rollout.adapters.routers.rayservice import RayServiceRouter
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.live_config import LiveConfig, parse_live_config

REPO_ROOT = Path(__file__).resolve().parents[3]
IRIS_POLICY = {"models": {"iris": {"versions": [{"version": "1", "app": "iris-v1", "weight": 100}]}}}
GATEWAY = gateway_app(IRIS_POLICY)
IRIS_V1 = version_app("iris", "1")
HTTP_OPTIONS = {"host": "127.0.0.1", "port": 38000, "root_path": "", "request_timeout_s": None}
NAMESPACE, NAME = "rayship-dev", "rayship"


def policy_of(config: dict | LiveConfig, model: str) -> dict:
    """A model's gateway policy as the config file writes it (only the fields that are set)."""
    live = parse_live_config(config) if isinstance(config, dict) else config
    return live.policy(model).model_dump(mode="json", exclude_unset=True)


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t
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


def rest_router(dashboard: FakeDashboard, clock: FakeClock | None = None, timeout_s: float = 10) -> ServeRestRouter:
    client = httpx.Client(transport=httpx.MockTransport(dashboard.handle))
    return ServeRestRouter(
        "http://127.0.0.1:38265/",
        "tok",
        clock or FakeClock(),
        timeout_s=timeout_s,
        poll_interval_s=1,
        client=client,
    )


def rendered_rayservice() -> dict[str, Any]:
    """The RayService exactly as `kuberay/` deploys it (dev overlay)."""
    docs = yaml.safe_load_all((REPO_ROOT / "kuberay" / "rendered" / "dev.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "RayService")


class FakeCustomObjects:
    """Stores one RayService; a merge patch bumps metadata.generation like the API server does. Each get
    first applies the next scripted KubeRay status (observed generation offset + app statuses), if any; once the
    script is used up and `settled` is set, KubeRay has reconciled the latest patch and every app of its
    serveConfigV2 reports `settled` (or its entry in `outcomes`)."""

    def __init__(self, rayservice: dict[str, Any], statuses: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.obj = copy.deepcopy(rayservice)
        self.obj.setdefault("metadata", {})["generation"] = 3
        self.obj["status"] = {"observedGeneration": 3, "activeServiceStatus": {"applicationStatuses": {}}}
        self.script = list(statuses or [])
        self.settled: str | None = None
        self.outcomes: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None

    def get_namespaced_custom_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get", kwargs))
        if self.error:
            raise self.error
        if self.script:
            lag, apps = self.script.pop(0)
            self._report(lag, apps)
        elif self.settled is not None:
            names = [app["name"] for app in yaml.safe_load(self.obj["spec"]["serveConfigV2"])["applications"]]
            self._report(0, {name: self.outcomes.get(name, self.settled) for name in names})
        return copy.deepcopy(self.obj)

    def patch_namespaced_custom_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("patch", kwargs))
        if self.error:
            raise self.error
        self.obj["spec"].update(kwargs["body"]["spec"])
        self.obj["metadata"]["generation"] += 1
        return copy.deepcopy(self.obj)

    def _report(self, lag: int, apps: dict[str, str]) -> None:
        self.obj["status"] = {
            "observedGeneration": self.obj["metadata"]["generation"] + lag,
            "activeServiceStatus": {
                "applicationStatuses": {n: {"status": s, "message": f"{n} is {s}"} for n, s in apps.items()}
            },
        }


def rayservice_router(
    api: FakeCustomObjects, clock: FakeClock | None = None, timeout_s: float = 30
) -> RayServiceRouter:
    return RayServiceRouter(
        api, NAME, NAMESPACE, clock=clock or FakeClock(1000.0), timeout_s=timeout_s, poll_interval_s=5
    )


class RestHarness:
    """The Serve REST router over a fake dashboard serving the gateway and iris-v1 (RUNNING)."""

    def __init__(self) -> None:
        self.clock, self.dashboard = FakeClock(), FakeDashboard()

    def router(self, timeout_s: float = 30) -> ServeConfigRouter:
        return rest_router(self.dashboard, self.clock, timeout_s)

    def fail(self, app: str, status: str) -> None:
        """The app settles in `status` after the next write."""
        self.dashboard.outcomes[app] = status

    def hang(self) -> None:
        """Nothing written from now on settles."""
        self.dashboard.polls_to_settle = 10**6

    def writes(self) -> int:
        return len(self.dashboard.puts)


class RayServiceHarness:
    """The RayService router over the RayService `kuberay/` renders, KubeRay reconciling every patch at once."""

    def __init__(self) -> None:
        self.clock, self.api = FakeClock(1000.0), FakeCustomObjects(rendered_rayservice())
        self.api.settled = "RUNNING"

    def router(self, timeout_s: float = 30) -> ServeConfigRouter:
        return rayservice_router(self.api, self.clock, timeout_s)

    def fail(self, app: str, status: str) -> None:
        self.api.outcomes[app] = status

    def hang(self) -> None:
        self.api.settled = "DEPLOYING"

    def writes(self) -> int:
        return sum(1 for verb, _ in self.api.calls if verb == "patch")


HARNESSES = {"serve_rest": RestHarness, "rayservice": RayServiceHarness}


class MemoryRouter(ServeConfigRouter):
    """An in-memory Serve: a written config runs at once, every app RUNNING; remembers what each write waited for."""

    def __init__(self, config: dict) -> None:
        self.config = copy.deepcopy(config)
        self.waits: list[list[str]] = []

    def read_config(self) -> dict:
        return copy.deepcopy(self.config)

    def write_config(self, config: dict, wait_for: list[str]) -> None:
        self.config = copy.deepcopy(config)
        self.waits.append(list(wait_for))

    def app_statuses(self) -> dict[str, str]:
        return {app["name"]: "RUNNING" for app in self.config["applications"]}
