"""Router through Ray Serve's REST API on the dashboard: `GET`/`PUT /api/serve/applications/` with the cluster
token (`Authorization: Bearer <token>`). The verbs are `ServeConfigRouter`'s; this module does the I/O.

`read_config` rebuilds the deploy config from the instance details (each app's `deployed_app_config`, which
Ray returns with only the fields that were set, plus the live `proxy_location`, `http_options` and
`grpc_options`), so writing it back changes nothing but what the rollout changed. A PUT stamps every app in it
with one new `last_deployed_time_s`; `write_config` therefore waits until each app in `wait_for` shows a newer
stamp than any before the PUT *and* RUNNING - it never mistakes the old config's RUNNING for the new one's.
"""

from __future__ import annotations

from typing import Any

import httpx

from rollout.adapters.routers.base import DELETING, DEPLOY_FAILED, NOT_STARTED, RUNNING, UNHEALTHY, ServeConfigRouter
from rollout.clock import Clock
from rollout.errors import AppStartError, ImperativeAppError, RouterUnavailableError, ServeConfigRejectedError

APPLICATIONS_PATH = "/api/serve/applications/"
INSTANCE_KEYS = ("proxy_location", "http_options", "grpc_options", "target_capacity")
FAILED_STATUSES = (DEPLOY_FAILED, UNHEALTHY)


def config_from_details(details: dict[str, Any]) -> dict[str, Any]:
    """The deploy config (ServeDeploySchema shape) of a `GET /api/serve/applications/` response."""
    config = {key: details[key] for key in INSTANCE_KEYS if details.get(key) is not None}
    applications = []
    for name, app in (details.get("applications") or {}).items():
        if app.get("status") == DELETING:  # on its way out, and Ray no longer reports its config
            continue
        if app.get("deployed_app_config") is None:
            raise ImperativeAppError(name)
        applications.append(app["deployed_app_config"])
    config["applications"] = applications
    return config


def statuses_from_details(details: dict[str, Any]) -> dict[str, str]:
    return {name: app.get("status", NOT_STARTED) for name, app in (details.get("applications") or {}).items()}


def newest_deploy_time(details: dict[str, Any]) -> float:
    return max(
        (app.get("last_deployed_time_s") or 0.0 for app in details.get("applications", {}).values()),
        default=0.0,
    )


class ServeRestRouter(ServeConfigRouter):
    def __init__(
        self,
        dashboard_url: str,
        token: str | None,
        clock: Clock,
        timeout_s: float = 180.0,
        poll_interval_s: float = 0.5,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = dashboard_url.rstrip("/") + APPLICATIONS_PATH
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.clock, self.timeout_s, self.poll_interval_s = clock, timeout_s, poll_interval_s
        self.client = client or httpx.Client(timeout=30.0)

    def read_config(self) -> dict:
        return config_from_details(self._details())

    def app_statuses(self) -> dict[str, str]:
        return statuses_from_details(self._details())

    def write_config(self, config: dict, wait_for: list[str]) -> None:
        before = newest_deploy_time(self._details())
        self._request("PUT", json=config)
        self._wait(wait_for, before)

    def _wait(self, wait_for: list[str], deployed_after: float) -> None:
        deadline = self.clock.now() + self.timeout_s
        while True:
            apps = self._details().get("applications") or {}
            pending = []
            for name in wait_for:
                app = apps.get(name) or {}
                status = app.get("status", NOT_STARTED)
                fresh = (app.get("last_deployed_time_s") or 0.0) > deployed_after
                if fresh and status in FAILED_STATUSES:
                    raise AppStartError(name, status, _first_line(app.get("message", "")))
                if not (fresh and status == RUNNING):
                    pending.append((name, status))
            if not pending:
                return
            if self.clock.now() >= deadline:
                name, status = pending[0]
                raise AppStartError(name, status, f"not RUNNING after {self.timeout_s:.0f} s")
            self.clock.sleep(self.poll_interval_s)

    def _details(self) -> dict[str, Any]:
        return self._request("GET").json()

    def _request(self, method: str, json: dict | None = None) -> httpx.Response:
        try:
            response = self.client.request(method, self.url, json=json, headers=self.headers)
        except httpx.HTTPError as exc:
            raise RouterUnavailableError(self.url, f"{method} failed ({type(exc).__name__}: {exc})") from exc
        detail = _first_line(response.text)[:300]
        if method == "PUT" and response.status_code in (400, 422):
            raise ServeConfigRejectedError(self.url, response.status_code, detail)
        if response.status_code >= 400:  # auth, 5xx: retried by the driver, then left pending for a rerun
            raise RouterUnavailableError(self.url, f"{method} failed with HTTP {response.status_code}: {detail}")
        return response


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""
