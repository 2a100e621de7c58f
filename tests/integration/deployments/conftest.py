"""Fixtures for the serving integration tests: a trained and registered iris model, and Serve deploys over REST.

Everything is real: the shared local Ray cluster (`cluster` fixture), its MLflow server, `serve deploy`'s REST API.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cluster.settings import ClusterSettings
from cluster.token import token_path
from deployments import app_config
from deployments.app_config import GATEWAY_APP
from deployments.gateway.app import policy_digest
from deployments.traffic_policy import GatewayConfig
from registry.api import PinnedVersion
from scripts.example_models import register_iris

MODEL = "iris-serving"
ROW = [5.1, 3.5, 1.4, 0.2]
API_KEY = {"x-api-key": "key-1"}  # ignored while the policy names no api_keys_env
KEY_ENV = {"RAYSHIP_TEST_API_KEYS": "key-1,key-2"}  # the gateway's env in every deploy (changing it restarts it)
DEPLOY_TIMEOUT_S = 300.0
VERSION_OPTIONS = {"num_replicas": 1, "max_ongoing_requests": 64, "ray_actor_options": {"num_cpus": 0.1}}
GATEWAY_OPTIONS = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.1}}


def train_and_register(name: str) -> PinnedVersion:
    """A tiny LogisticRegression on iris with named columns, logged and registered with its digests."""
    return register_iris(name, experiment="serving-integration", sweep_id="serving-it")


class Serve:
    """`serve deploy` and `serve status` over the dashboard's REST API, with the cluster token."""

    def __init__(self, settings: ClusterSettings) -> None:
        token = Path(token_path()).read_text().strip()
        self.admin = {"authorization": f"Bearer {token}"}
        self.api = httpx.Client(base_url=settings.dashboard_url, headers=self.admin, timeout=60)
        self.http = httpx.Client(base_url=settings.serve_url, timeout=60)
        self.http_address = f"{settings.host}:{settings.serve_port}"
        self.grpc_address = settings.grpc_address
        self.options = app_config.ingress_options(settings.host, settings.serve_port, settings.grpc_port)

    def config(self, apps: list[dict], gateway_config: dict, gateway_env: dict | None = KEY_ENV) -> dict:
        """`gateway_config` is written as it is: a test deploys a policy the gateway must reject."""
        runtime_env = {"env_vars": gateway_env} if gateway_env else None
        gateway = app_config.gateway_app(gateway_config, runtime_env=runtime_env, deployment=GATEWAY_OPTIONS)
        return {**self.options, "applications": [gateway, *apps]}

    def deploy(self, config: dict) -> None:
        response = self.api.put("/api/serve/applications/", json=config)
        assert response.status_code == 200, response.text

    def applications(self) -> dict:
        response = self.api.get("/api/serve/applications/")
        assert response.status_code == 200, response.text
        return response.json().get("applications") or {}

    def wait(self, done: Callable[[dict], bool], what: str, timeout_s: float = DEPLOY_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            apps = self.applications()
            if done(apps):
                return apps
            time.sleep(1.0)
        raise AssertionError(f"timed out waiting for {what}: {summary(self.applications())}")

    def wait_running(self, names: list[str]) -> dict:
        def running(apps: dict) -> bool:
            return set(names) <= set(apps) and all(apps[name]["status"] == "RUNNING" for name in names)

        return self.wait(running, f"{names} RUNNING")

    def replica_actor_ids(self) -> dict[str, set[str]]:
        ids = {}
        for name, app in self.applications().items():
            for deployment in app["deployments"].values():
                ids[name] = {replica["actor_id"] for replica in deployment["replicas"]}
        return ids

    def policy(self) -> dict:
        return self.http.get("/-/rayship/policy", headers=self.admin).json()

    def apply(self, apps: list[dict], gateway_config: dict) -> None:
        """Deploy, wait until every app runs, the gateway runs exactly this policy and sees the deployed versions."""
        self.deploy(self.config(apps, gateway_config))
        self.wait_running([GATEWAY_APP, *(app["name"] for app in apps)])
        config = GatewayConfig.model_validate(gateway_config)
        self.wait(lambda _: self.policy().get("policy_digest") == policy_digest(config), "the gateway policy")
        deployed = {app["name"] for app in apps}
        ready_paths = [
            f"/v2/models/{model}/versions/{route.version}/ready"
            for model, model_policy in config.models.items()
            for route in model_policy.versions
            if route.app in deployed
        ]
        # The gateway learns which apps run from a periodic status poll: wait until it sees them, as a rollout must.
        self.wait(
            lambda _: all(self.http.get(path, headers=API_KEY).status_code == 200 for path in ready_paths),
            "the gateway to see them",
        )

    @contextlib.contextmanager
    def steady_load(self, threads: int = 2) -> Iterator[tuple[Counter, Counter]]:
        """Single-row predictions from `threads` clients until the block ends: (statuses, serving versions)."""
        statuses, versions, stop = Counter(), Counter(), threading.Event()

        def load() -> None:
            with httpx.Client(base_url=str(self.http.base_url), timeout=60) as client:
                while not stop.is_set():
                    response = client.post(f"/v1/models/{MODEL}:predict", json={"instances": [ROW]})
                    statuses[response.status_code] += 1
                    versions[response.headers.get("x-model-version")] += 1

        workers = [threading.Thread(target=load) for _ in range(threads)]
        for worker in workers:
            worker.start()
        try:
            yield statuses, versions
        finally:
            stop.set()
            for worker in workers:
                worker.join()

    @staticmethod
    def with_ghost(config: dict) -> dict:
        """Add a model whose only version app does not exist: the gateway must treat it as not ready."""
        ghost = {"versions": [{"version": "1", "app": "ghost-v1", "weight": 100}]}
        return {**config, "models": {**config["models"], "ghost": ghost}}

    model = MODEL
    train = staticmethod(lambda: train_and_register(MODEL))

    @staticmethod
    def version_app(pinned: PinnedVersion, **deployment: object) -> dict:
        return version_app(pinned, **deployment)

    @staticmethod
    def weights(*weights: tuple[PinnedVersion, int], **extra: object) -> dict:
        return policy(*weights, **extra)


def summary(apps: dict) -> dict:
    return {name: (app["status"], app.get("message", "")[:300]) for name, app in apps.items()}


def version_app(pinned: PinnedVersion, **deployment: object) -> dict:
    return app_config.version_app(
        pinned.name, pinned.version, model_uri=pinned.uri, deployment={**VERSION_OPTIONS, **deployment}
    )


def policy(*weights: tuple[PinnedVersion, int], **extra: object) -> dict:
    versions = [
        {"version": p.version, "app": app_config.version_app_name(p.name, p.version), "weight": w} for p, w in weights
    ]
    return {"models": {MODEL: {"versions": versions, "champion": weights[0][0].version, **extra}}}


@pytest.fixture(scope="session")
def serve_api(cluster: ClusterSettings) -> Iterator[Serve]:
    api = Serve(cluster)
    # Start from no apps, so replicas import the code under test rather than whatever an earlier run deployed.
    assert api.api.delete("/api/serve/applications/").status_code == 200
    api.wait(lambda apps: not apps, "the previous applications to go")
    yield api
    api.api.close()
    api.http.close()


@pytest.fixture(scope="session")
def two_versions(cluster: ClusterSettings) -> tuple[PinnedVersion, PinnedVersion]:
    return train_and_register(MODEL), train_and_register(MODEL)


@pytest.fixture(scope="module")
def baseline(serve_api: Serve, two_versions: tuple[PinnedVersion, PinnedVersion]) -> tuple[list[dict], dict]:
    """Both versions at 90/10 plus a ghost model; tests that change the deployment put this back."""
    v1, v2 = two_versions
    apps = [serve_api.version_app(v1), serve_api.version_app(v2)]
    config = serve_api.with_ghost(serve_api.weights((v1, 90), (v2, 10)))
    serve_api.apply(apps, config)
    return apps, config
