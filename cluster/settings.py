"""Where and how the local cluster runs: ports, bind address, sizes and the state directory.

Every value has a default for a laptop, can be overridden by a `RAYSHIP_*` environment variable, and again by a
command-line flag. The model is the one contract shared by the CLI, the command builders and the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENV_PREFIX = "RAYSHIP_"
DEFAULT_STATE_DIR = Path(".rayship")


class ClusterSettings(BaseModel):
    """The local cluster: one Ray head, optional worker raylets on the same host, and an MLflow server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address every HTTP endpoint binds to (dashboard, Serve, MLflow).")
    gcs_port: int = Field(6379, ge=1, le=65535, description="Port of the Ray GCS, the address nodes join.")
    dashboard_port: int = Field(8265, ge=1, le=65535, description="Port of the Ray dashboard and its REST API.")
    metrics_port: int = Field(8080, ge=1, le=65535, description="Port where the head exports Prometheus metrics.")
    serve_port: int = Field(8000, ge=1, le=65535, description="Port of the Ray Serve HTTP proxy.")
    grpc_port: int = Field(
        9000, ge=1, le=65535, description="Port of Serve's gRPC ingress (OIP v2), as `grpc_options.port` sets it."
    )
    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow tracking server.")
    client_port: int = Field(10001, ge=1, le=65535, description="Port of the Ray client server (ray://).")
    haproxy_stats_port: int = Field(8404, ge=1, le=65535, description="Loopback port of HAProxy's stats page.")
    haproxy_metrics_port: int = Field(
        9101, ge=1, le=65535, description="Loopback port of HAProxy's Prometheus exporter."
    )
    prometheus_port: int = Field(9090, ge=1, le=65535, description="Port of the local Prometheus server.")
    prometheus: bool = Field(
        True,
        description="Start a Prometheus server that scrapes every Ray node and evaluates the models' alert rules.",
    )
    prometheus_interval_s: int = Field(
        5, ge=1, le=300, description="Prometheus' scrape and rule-evaluation interval, in seconds."
    )
    workers: int = Field(0, ge=0, le=8, description="Extra worker raylets started on this host and joined to the head.")
    head_cpus: int | None = Field(
        None, ge=1, description="Logical CPUs of the head node; unset means the machine's core count."
    )
    worker_port_base: int = Field(
        52400,
        ge=20000,
        le=65000,
        description="First of the 10 ports each Ray node on this host takes (head: +0..9, worker N: +10N..10N+9).",
    )
    worker_cpus: int = Field(1, ge=1, description="Logical CPUs of each extra worker raylet.")
    object_store_bytes: int | None = Field(
        None, ge=78_643_200, description="Object store size per node; unset means a bound chosen from the RAM size."
    )
    state_dir: Path = Field(
        DEFAULT_STATE_DIR,
        validate_default=True,
        description="Directory holding PIDs, logs, the MLflow database and artifacts.",
    )
    start_timeout_s: float = Field(120.0, gt=0, description="How long `up` waits for every service to answer.")
    serve_high_throughput: bool = Field(
        True,
        description="Run Ray Serve in its documented high-throughput mode (RAY_SERVE_THROUGHPUT_OPTIMIZED=1, the "
        "HAProxy ingress RAY_SERVE_ENABLE_HA_PROXY=1, gRPC between deployments), HAProxy's admin frontends bound to "
        "loopback by `rayship-haproxy`. False falls back to Serve's Python proxy.",
    )

    @field_validator("state_dir")
    @classmethod
    def _absolute_state_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @model_validator(mode="after")
    def _distinct_ports(self) -> ClusterSettings:
        ports = {name: getattr(self, name) for name in PORT_FIELDS}
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ValueError(f"{name} and {seen[port]} are both set to port {port}; give each its own port")
            if RAY_WORKER_PORTS[0] <= port <= RAY_WORKER_PORTS[1]:
                raise ValueError(
                    f"{name} {port} falls in Ray's worker port range {RAY_WORKER_PORTS[0]}-{RAY_WORKER_PORTS[1]}; "
                    "choose a port outside it"
                )
            seen[port] = name
        return self

    @property
    def ray_address(self) -> str:
        return f"{self.host}:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}"

    @property
    def serve_url(self) -> str:
        return f"http://{self.host}:{self.serve_port}"

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.host}:{self.mlflow_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"


# `ray start` reserves these for worker processes unless told otherwise; a service port inside is refused by Ray.
RAY_WORKER_PORTS = (10002, 19999)
PORT_FIELDS = (
    "gcs_port",
    "dashboard_port",
    "metrics_port",
    "serve_port",
    "grpc_port",
    "mlflow_port",
    "client_port",
    "haproxy_stats_port",
    "haproxy_metrics_port",
    "prometheus_port",
)


def settings_from_env(environ: dict[str, str] | None = None, **overrides: object) -> ClusterSettings:
    """Build settings from `RAYSHIP_<FIELD>` variables, then apply explicit overrides (flags win over env)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name in ClusterSettings.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw not in (None, ""):
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ClusterSettings(**values)
