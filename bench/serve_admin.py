"""Serve administration shared by the benchmarks: replace the cluster's Serve applications through the dashboard's
REST API (`PUT /api/serve/applications/`, cluster token), wait for them, read the gateway's applied policy.

Addresses come from the cluster settings (`RAYSHIP_*` ports) and the token from Ray's token file, as
`eval "$(python -m cluster env)"` sets them.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from deployments import app_config
from deployments.traffic_policy import GatewayConfig

POLICY_PATH = "/-/rayship/policy"
# What every benchmark app's replica reserves: the serving benchmark runs six apps (seven replicas: 1.75 CPUs) at once
# on a 2-CPU cluster, and a reservation is not a limit.
BENCH_APP_CPUS = 0.25
BENCH_DEPLOYMENT = {"num_replicas": 1, "ray_actor_options": {"num_cpus": BENCH_APP_CPUS}}


class ServeAdmin:
    """The Serve REST API and the gateway's admin endpoints of the cluster in the environment."""

    def __init__(self) -> None:
        from cluster.settings import settings_from_env
        from cluster.token import token_path

        self.settings = settings_from_env()
        self.token = Path(token_path()).read_text().strip()
        self.api = httpx.Client(base_url=self.settings.dashboard_url, headers={"authorization": f"Bearer {self.token}"})
        self.admin_headers = {"authorization": f"Bearer {self.token}"}
        self.gateway = httpx.Client(base_url=self.settings.serve_url, headers=self.admin_headers)

    def current_apps(self) -> list[dict]:
        apps = self.api.get("/api/serve/applications/", timeout=60).json().get("applications") or {}
        return [app["deployed_app_config"] for app in apps.values() if app.get("deployed_app_config")]

    def deploy(self, apps: list[dict]) -> None:
        options = app_config.ingress_options(self.settings.host, self.settings.serve_port, self.settings.grpc_port)
        config = {**options, "applications": apps}
        response = self.api.put("/api/serve/applications/", json=config, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"serve deploy failed ({response.status_code}): {response.text}")

    def wait_running(self, names: list[str], timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            apps = self.api.get("/api/serve/applications/", timeout=60).json().get("applications") or {}
            if all(apps.get(name, {}).get("status") == "RUNNING" for name in names):
                return
            time.sleep(1)
        raise RuntimeError(f"apps {names} not RUNNING within {timeout_s} s")

    def wait_only(self, names: list[str], timeout_s: float = 600) -> None:
        """Until exactly these apps exist, each RUNNING: the replicas of apps a deploy dropped are gone too."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            apps = self.api.get("/api/serve/applications/", timeout=60).json().get("applications") or {}
            if sorted(apps) == sorted(names) and all(app.get("status") == "RUNNING" for app in apps.values()):
                return
            time.sleep(1)
        raise RuntimeError(f"apps other than {names} still there, or these not RUNNING, after {timeout_s} s")

    def policy(self) -> dict | None:
        """The gateway's `GET /-/rayship/policy` (applied policy and its digest), None when it does not answer."""
        try:
            response = self.gateway.get(POLICY_PATH, timeout=10)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_policy(self, digest: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view = self.policy()
            if view is not None and view.get("policy_digest") == digest:
                return
            time.sleep(0.5)
        raise RuntimeError("the gateway did not take the new policy")

    def wait_routes(self, model: str, weights: dict[str, int], timeout_s: float = 120) -> None:
        """Until the gateway's applied policy gives `model` exactly these version weights. Unlike a digest, this
        holds when the gateway replica runs older code than this process (its policy model may have other
        fields: a replica keeps the code it started with while only its user_config changes)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view = self.policy()
            if view is not None and policy_weights(view, model) == weights:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the gateway did not route {model} as {weights} within {timeout_s} s")

    def wait_ready(self, model: str, timeout_s: float = 120) -> None:
        """The gateway resolves version handles lazily: an app Serve calls RUNNING may not be routable yet."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.gateway.get(f"/v2/models/{model}/ready", timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"model {model} not ready at the gateway within {timeout_s} s")


def policy_weights(policy_view: dict, model: str) -> dict[str, int]:
    """Version -> weight of one model in a `GET /-/rayship/policy` answer ({} when the model is not there)."""
    routes = policy_view.get("policy", {}).get("models", {}).get(model, {}).get("versions", [])
    return {route["version"]: int(route["weight"]) for route in routes}


def version_app(name: str, version: str, uri: str) -> dict:
    """The Serve app of one model version, with one small replica."""
    return app_config.version_app(name, version, model_uri=uri, deployment=BENCH_DEPLOYMENT)


def gateway_app(policy: GatewayConfig) -> dict:
    """The gateway app with `policy` as its user_config, with one small replica."""
    return app_config.gateway_app(policy, deployment=BENCH_DEPLOYMENT)


def policy_of(name: str, weights: list[tuple[str, int]]) -> GatewayConfig:
    """A one-model gateway policy; the first version is the champion."""
    versions = [{"version": v, "app": app_config.version_app_name(name, v), "weight": w} for v, w in weights]
    return GatewayConfig.model_validate({"models": {name: {"versions": versions, "champion": weights[0][0]}}})
