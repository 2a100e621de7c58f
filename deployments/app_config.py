"""The Serve config entries of rayship's applications: the one place their names, routes and import paths are written.

Every model version is its own application (`iris-v3`, no HTTP route) running the `ModelVersion` deployment; one
`gateway` application on `/` runs the `Gateway` deployment, whose `user_config` is the traffic policy
(`deployments.traffic_policy.GatewayConfig`). `configs/serve.yaml`, the rollouts, the benchmarks and the tests build
their entries here. Plain dicts in the shape of a Serve config file; no Ray import, so the rollout CLI and the KubeRay
renderer stay light.
"""

from __future__ import annotations

from typing import Any

from deployments.traffic_policy import GatewayConfig

GATEWAY_APP = "gateway"
GATEWAY_ROUTE_PREFIX = "/"
GATEWAY_IMPORT_PATH = "deployments.gateway.app:build_app"
GATEWAY_DEPLOYMENT = "Gateway"
VERSION_IMPORT_PATH = "deployments.version_app:build_app"
VERSION_DEPLOYMENT = "ModelVersion"
GRPC_SERVICER = "deployments.gateway.oip_grpc.grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server"


def ingress_options(host: str, http_port: int, grpc_port: int) -> dict[str, Any]:
    """A Serve config's `http_options` and `grpc_options`: HTTP and OIP v2 over gRPC on one host. Serve applies them
    only when it starts, so every deploy that may start it sends the same ones."""
    return {
        "http_options": {"host": host, "port": http_port},
        "grpc_options": {"port": grpc_port, "grpc_servicer_functions": [GRPC_SERVICER]},
    }


def version_app_name(model: str, version: str) -> str:
    """The Serve application serving one model version, e.g. 'iris-v3'."""
    return f"{model}-v{version}"


def version_model_uri(model: str, version: str) -> str:
    """The registry URI a version app loads, e.g. 'models:/iris/3'."""
    return f"models:/{model}/{version}"


def version_app(
    model: str,
    version: str,
    *,
    model_uri: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    deployment: dict[str, Any] | None = None,
    args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The application of one model version: no HTTP route (only the gateway calls it); `deployment` holds the
    `ModelVersion` deployment's options (replicas, resources, its `user_config`), left to the code's defaults
    when None; `args` adds to the version app's arguments (`deployments.version_app.VersionAppArgs`)."""
    app: dict[str, Any] = {
        "name": version_app_name(model, version),
        "route_prefix": None,
        "import_path": VERSION_IMPORT_PATH,
    }
    if runtime_env is not None:
        app["runtime_env"] = runtime_env
    app["args"] = {"model_uri": model_uri or version_model_uri(model, version), **(args or {})}
    if deployment is not None:
        app["deployments"] = [{"name": VERSION_DEPLOYMENT, **deployment}]
    return app


def gateway_app(
    policy: GatewayConfig | dict[str, Any],
    *,
    runtime_env: dict[str, Any] | None = None,
    deployment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The gateway application on `/` with `policy` as its deployment's `user_config`; `deployment` holds the
    `Gateway` deployment's other options. A dict policy is written as it is, unvalidated: a test may deploy one
    the gateway must reject."""
    user_config = policy.model_dump(mode="json", exclude_unset=True) if isinstance(policy, GatewayConfig) else policy
    app: dict[str, Any] = {
        "name": GATEWAY_APP,
        "route_prefix": GATEWAY_ROUTE_PREFIX,
        "import_path": GATEWAY_IMPORT_PATH,
    }
    if runtime_env is not None:
        app["runtime_env"] = runtime_env
    app["args"] = {}
    app["deployments"] = [{"name": GATEWAY_DEPLOYMENT, **(deployment or {}), "user_config": user_config}]
    return app
