"""Turn the laptop Serve config (`configs/serve.yaml`) into the one embedded in the RayService's `serveConfigV2`.

The file binds Serve's HTTP proxy to 127.0.0.1, which is right on a laptop and wrong in a pod: KubeRay's serve
Service reaches the proxy through the pod IP. So the cluster copy differs in exactly one place, `http_options`
(host 0.0.0.0, port 8000, the port KubeRay's serve Service targets); `applications` and every other key are copied
unchanged. The pod is still not exposed: only the ClusterIP serve Service and the NetworkPolicy reach it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from kuberay.errors import ServeConfigError

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
        ServeDeploySchema.model_validate(config)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ServeConfigError(str(path), f"fails Ray's ServeDeploySchema at '{where}': {first['msg']}") from exc


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
