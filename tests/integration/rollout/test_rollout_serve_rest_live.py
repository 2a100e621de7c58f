"""ServeRestRouter against the real Ray Serve REST API of the shared local cluster (token auth on).

What the rollout relies on, checked on a live cluster: a gateway `user_config` change is applied in place
(same replica, no restart) and waited for; a version app that cannot load is reported as DEPLOY_FAILED while
the gateway keeps running untouched.
"""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
import yaml

from cluster.settings import ClusterSettings
from rollout.adapters.routers.serve_rest import APPLICATIONS_PATH, ServeRestRouter
from rollout.errors import AppStartError
from rollout.serve_edits import find_app, version_app, with_version_app

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def replica_ids(cluster: ClusterSettings, token: str, app: str) -> list[str]:
    details = httpx.get(
        cluster.dashboard_url + APPLICATIONS_PATH, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    deployments = details["applications"][app]["deployments"].values()
    return sorted(replica["replica_id"] for deployment in deployments for replica in deployment["replicas"])


def live_statuses(router: ServeRestRouter) -> dict[str, str]:
    """Statuses without apps an earlier test's clean-up is still deleting."""
    return {name: status for name, status in router.app_statuses().items() if status != "DELETING"}


def gateway_only(live: dict) -> dict:
    """The shipped gateway app with no models and one small replica: it needs no registered model."""
    gateway = copy.deepcopy(find_app(yaml.safe_load(SERVE_YAML.read_text()), "gateway"))
    deployment = gateway["deployments"][0]
    deployment["user_config"]["models"] = {}
    deployment.pop("autoscaling_config", None)
    deployment["num_replicas"] = 1
    return {**live, "applications": [gateway]}


def test_a_gateway_policy_change_is_applied_in_place(
    cluster: ClusterSettings, token: str, serve_router: ServeRestRouter
) -> None:
    serve_router.write_config(gateway_only(serve_router.read_config()), ["gateway"])
    assert live_statuses(serve_router) == {"gateway": "RUNNING"}
    replicas_before = replica_ids(cluster, token, "gateway")

    changed = serve_router.read_config()
    gateway = find_app(changed, "gateway")
    gateway["deployments"][0]["user_config"]["max_body_bytes"] = 2048
    serve_router.write_config(with_version_app(changed, gateway), ["gateway"])

    live = find_app(serve_router.read_config(), "gateway")
    assert live["deployments"][0]["user_config"]["max_body_bytes"] == 2048
    assert live_statuses(serve_router) == {"gateway": "RUNNING"}
    assert replica_ids(cluster, token, "gateway") == replicas_before


def test_a_version_app_that_cannot_load_fails_and_the_gateway_is_untouched(
    cluster: ClusterSettings, token: str, serve_router: ServeRestRouter
) -> None:
    serve_router.write_config(gateway_only(serve_router.read_config()), ["gateway"])
    replicas_before = replica_ids(cluster, token, "gateway")
    broken = version_app("nosuchmodel", "1")
    broken["deployments"] = [{"name": "ModelVersion", "ray_actor_options": {"num_cpus": 0.1}, "num_replicas": 1}]

    with pytest.raises(AppStartError) as caught:
        serve_router.write_config(with_version_app(serve_router.read_config(), broken), ["nosuchmodel-v1"])

    assert caught.value.app_name == "nosuchmodel-v1"
    assert caught.value.status == "DEPLOY_FAILED"
    assert live_statuses(serve_router) == {"gateway": "RUNNING", "nosuchmodel-v1": "DEPLOY_FAILED"}
    assert replica_ids(cluster, token, "gateway") == replicas_before
