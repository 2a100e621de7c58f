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
from deployments.app_config import GATEWAY_APP, version_app
from rollout.adapters.routers.serve_rest import APPLICATIONS_PATH, ServeRestRouter
from rollout.errors import AppStartError
from rollout.live_config import live_config_dict, parse_app, with_gateway
from rollout.serve_edits import with_version_app

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
    shipped = yaml.safe_load(SERVE_YAML.read_text())["applications"]
    gateway = copy.deepcopy(next(app for app in shipped if app["name"] == GATEWAY_APP))
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

    live = serve_router.applied()
    changed = with_gateway(live, live.gateway.model_copy(update={"max_body_bytes": 2048}))
    serve_router.write_config(live_config_dict(changed), ["gateway"])

    assert serve_router.applied().gateway.max_body_bytes == 2048
    assert live_statuses(serve_router) == {"gateway": "RUNNING"}
    assert replica_ids(cluster, token, "gateway") == replicas_before


def test_a_version_app_that_cannot_load_fails_and_the_gateway_is_untouched(
    cluster: ClusterSettings, token: str, serve_router: ServeRestRouter
) -> None:
    serve_router.write_config(gateway_only(serve_router.read_config()), ["gateway"])
    replicas_before = replica_ids(cluster, token, "gateway")
    broken = parse_app(
        version_app("nosuchmodel", "1", deployment={"ray_actor_options": {"num_cpus": 0.1}, "num_replicas": 1})
    )

    with_broken = live_config_dict(with_version_app(serve_router.applied(), broken))
    with pytest.raises(AppStartError) as caught:
        serve_router.write_config(with_broken, ["nosuchmodel-v1"])

    assert caught.value.app_name == "nosuchmodel-v1"
    assert caught.value.status == "DEPLOY_FAILED"
    assert live_statuses(serve_router) == {"gateway": "RUNNING", "nosuchmodel-v1": "DEPLOY_FAILED"}
    assert replica_ids(cluster, token, "gateway") == replicas_before
