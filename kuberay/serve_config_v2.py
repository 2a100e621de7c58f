"""Turn the laptop Serve config (`configs/serve.yaml`) into the one embedded in the RayService's `serveConfigV2`.

The file binds Serve's HTTP proxy to 127.0.0.1, which is right on a laptop and wrong in a pod: KubeRay's serve
Service reaches the proxy through the pod IP. So the cluster copy differs in exactly one place, `http_options`
(host 0.0.0.0, port 8000, the port KubeRay's serve Service targets); `applications` and every other key are copied
unchanged. The pod is still not exposed: only the ClusterIP serve Service and the NetworkPolicy reach it.

The config must be one the RayService router can roll out: valid for Ray's `ServeDeploySchema`, and running the
gateway application (named by `deployments.app_config`), whose policy is what rollouts edit.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from deployments.app_config import GATEWAY_APP, GATEWAY_DEPLOYMENT
from kuberay.errors import ServeConfigError

if TYPE_CHECKING:
    from ray.serve.schema import ServeDeploySchema

CLUSTER_HTTP_HOST = "0.0.0.0"
CLUSTER_HTTP_PORT = 8000


def load_serve_config(path: Path) -> dict[str, Any]:
    """Read a Serve config file and check it with Ray's own `ServeDeploySchema` (what `serve deploy` checks)."""
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ServeConfigError(str(path), f"cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ServeConfigError(str(path), f"is not valid YAML ({exc})") from exc
    if not isinstance(config, dict) or not isinstance(config.get("applications"), list):
        raise ServeConfigError(str(path), "is not a mapping with an 'applications' list")
    _validate_with_ray(path, config)
    return config


def _validate_with_ray(path: Path, config: dict[str, Any]) -> None:
    # Imported here: ray.serve.schema takes seconds to import and only the renderer needs it.
    import pydantic
    from ray.serve.schema import ServeDeploySchema

    try:
        deploy = ServeDeploySchema.model_validate(config)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ServeConfigError(str(path), f"fails Ray's ServeDeploySchema at '{where}': {first['msg']}") from exc
    _check_runs_the_gateway(path, deploy)


def _check_runs_the_gateway(path: Path, deploy: ServeDeploySchema) -> None:
    gateway = next((app for app in deploy.applications if app.name == GATEWAY_APP), None)
    if gateway is None or GATEWAY_DEPLOYMENT not in gateway.deployment_names:
        raise ServeConfigError(
            str(path), f"has no application '{GATEWAY_APP}' with a deployment '{GATEWAY_DEPLOYMENT}'"
        )


def cluster_serve_config(local: dict[str, Any]) -> dict[str, Any]:
    """The in-cluster copy of a Serve config: same keys, `http_options` bound to all interfaces on port 8000."""
    cluster = copy.deepcopy(local)
    http_options = dict(cluster.get("http_options") or {})
    http_options.update(host=CLUSTER_HTTP_HOST, port=CLUSTER_HTTP_PORT)
    cluster["http_options"] = http_options
    return cluster


def serve_config_yaml(config: dict[str, Any]) -> str:
    """Serialise a Serve config the way it is embedded in `serveConfigV2`: block YAML, key order kept."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
