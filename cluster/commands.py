"""Pure builders for the command lines and environments of the processes `cluster up` starts.

Nothing here touches the machine: callers pass in what they measured (RAM, cores, paths), so the unit tier can
check every flag.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cluster.settings import ClusterSettings
from deployments.app_config import GRPC_SERVICER

GIB = 1024**3
# Ray's own default takes 30 % of RAM for the object store; on a small machine that starves the replicas.
SMALL_MACHINE_BYTES = 32 * GIB
SMALL_MACHINE_OBJECT_STORE_BYTES = 1 * GIB
# The console script (cluster/haproxy_loopback.py) that keeps HAProxy's admin frontends on loopback.
HAPROXY_SCRIPT = "rayship-haproxy"


def object_store_bytes(settings: ClusterSettings, total_memory_bytes: int) -> int | None:
    """The object store bound per node: the configured one, 1 GiB on small machines, else Ray's default."""
    if settings.object_store_bytes is not None:
        return settings.object_store_bytes
    if total_memory_bytes < SMALL_MACHINE_BYTES:
        return SMALL_MACHINE_OBJECT_STORE_BYTES
    return None


GRPC_HOST_ENV = "RAYSHIP_GRPC_HOST"  # read by deployments/gateway/oip_grpc/loopback.py in Ray's processes
GRPC_PROXY_CALLBACK = "deployments.gateway.oip_grpc.loopback:proxy_callback"


def ray_env(settings: ClusterSettings, base_env: dict[str, str], token_path: Path, bin_dir: Path) -> dict[str, str]:
    """Environment for `ray start`; Ray's workers inherit it from their raylet. `bin_dir` holds rayship's scripts."""
    env = dict(base_env)
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_path),
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MLFLOW_TRACKING_URI": settings.mlflow_url,
            "RAY_USAGE_STATS_ENABLED": "0",
            # The dashboard reads its metrics graphs from the local Prometheus (and probes nothing else).
            "RAY_PROMETHEUS_HOST": settings.prometheus_url,
            # Ray starts its workers (Serve replicas, HAProxy, Tune trials) at nice 15 below its own daemons, so on a
            # busy core a replica waits out every daemon burst (docs/serving.md: the gateway's p99, measured).
            "RAY_worker_niceness": "0",
            # Serve's gRPC servers bind every interface whatever the config; this keeps them on the settings' host.
            GRPC_HOST_ENV: settings.host,
            "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": GRPC_PROXY_CALLBACK,
        }
    )
    if settings.serve_high_throughput:
        env.update(high_throughput_env(settings, bin_dir))
    env.pop("RAY_AUTH_TOKEN", None)  # the file is the one source of the token
    env.pop("RAY_ADDRESS", None)  # `ray start --head` must not try to join another cluster
    return env


def high_throughput_env(settings: ClusterSettings, bin_dir: Path) -> dict[str, str]:
    """Ray Serve's documented high-throughput switches, with HAProxy started through `rayship-haproxy` and its admin
    ports from the settings (two clusters on one host must not share them)."""
    env = {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(bin_dir / HAPROXY_SCRIPT),
        # HAProxy would log every request to a socket Serve's manager parses into serve_num_http_requests & co:
        # ~0.1 ms of CPU per request (6 % of a core at 640 req/s). The gateway counts requests, errors and latency
        # per model version itself (rayship_requests, rayship_errors, rayship_latency_ms).
        "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(settings.haproxy_stats_port),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(settings.haproxy_metrics_port),
    }
    if settings.workers:
        # Every raylet here runs its own HAProxy on the same host and ports: let the kernel share them out.
        env["SERVE_SOCKET_REUSE_PORT_ENABLED"] = "1"
    return env


def ray_head_command(settings: ClusterSettings, ray_bin: str, total_memory_bytes: int, cpu_count: int) -> list[str]:
    """`ray start --head --block` with the dashboard on the settings' host and every port from the settings."""
    cmd = [
        ray_bin,
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        f"--port={settings.gcs_port}",
        "--include-dashboard=true",
        f"--dashboard-host={settings.host}",
        f"--dashboard-port={settings.dashboard_port}",
        f"--metrics-export-port={settings.metrics_port}",
        f"--ray-client-server-port={settings.client_port}",
        f"--num-cpus={settings.head_cpus or cpu_count}",
        f"--temp-dir={ray_temp_dir(settings)}",
    ]
    agent_ports = {k: v for k, v in node_ports(settings, 0).items() if k != "metrics-export-port"}
    return cmd + [f"--{k}={v}" for k, v in agent_ports.items()] + _object_store_flag(settings, total_memory_bytes)


def ray_worker_command(settings: ClusterSettings, index: int, ray_bin: str, total_memory_bytes: int) -> list[str]:
    """`ray start --block` for the index-th extra raylet on this host, with ports that do not collide."""
    cmd = [
        ray_bin,
        "start",
        "--block",
        "--disable-usage-stats",
        f"--address={settings.ray_address}",
        f"--num-cpus={settings.worker_cpus}",
        f"--temp-dir={ray_temp_dir(settings)}",
    ]
    ports = [f"--{k}={v}" for k, v in node_ports(settings, index).items()]
    return cmd + ports + _object_store_flag(settings, total_memory_bytes)


def node_ports(settings: ClusterSettings, index: int) -> dict[str, int]:
    """The fixed ports of node `index` (0 = head): raylets on one host must not share Ray's default agent ports."""
    base = settings.worker_port_base + 10 * index
    names = (
        "node-manager-port",
        "object-manager-port",
        "metrics-export-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
    )
    return {name: base + offset for offset, name in enumerate(names)}


def mlflow_command(settings: ClusterSettings, python_bin: str = sys.executable) -> list[str]:
    """A real `mlflow server` on loopback: sqlite backend, artifacts stored and served by the server itself."""
    return [
        python_bin,
        "-m",
        "mlflow",
        "server",
        "--host",
        settings.host,
        "--port",
        str(settings.mlflow_port),
        "--backend-store-uri",
        f"sqlite:///{mlflow_db_path(settings)}",
        "--artifacts-destination",
        str(settings.state_dir / "mlflow-artifacts"),
        "--serve-artifacts",
        "--workers",
        "1",
    ]


def mlflow_env(base_env: dict[str, str]) -> dict[str, str]:
    env = dict(base_env)
    env.pop("MLFLOW_TRACKING_URI", None)
    # MLflow 3 otherwise starts seven job-queue processes (~240 MiB RSS each) for jobs rayship never runs.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


def serve_start_command(settings: ClusterSettings, serve_bin: str) -> list[str]:
    """Start Serve's controller and proxies with HTTP bound to the settings' host and port, and OIP v2 over gRPC
    on the gRPC port (kept on the same host: `GRPC_HOST_ENV`). Serve takes these options only when it starts."""
    return [
        serve_bin,
        "start",
        f"--address={settings.ray_address}",
        f"--http-host={settings.host}",
        f"--http-port={settings.serve_port}",
        f"--grpc-port={settings.grpc_port}",
        f"--grpc-servicer-functions={GRPC_SERVICER}",
        "--proxy-location=EveryNode",
    ]


def client_exports(settings: ClusterSettings, token_path: Path) -> dict[str, str]:
    """The variables a shell needs for `serve deploy`, `serve status`, `ray job submit` and the rayship CLIs."""
    return {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_ADDRESS": settings.ray_address,  # ray.init() and `serve start` join the GCS
        "RAY_API_SERVER_ADDRESS": settings.dashboard_url,  # `ray job submit`
        "RAY_DASHBOARD_ADDRESS": settings.dashboard_url,  # `serve deploy`, `serve status`
        "MLFLOW_TRACKING_URI": settings.mlflow_url,
        "RAYSHIP_SERVE_URL": settings.serve_url,
        "RAYSHIP_PROMETHEUS_URL": settings.prometheus_url,
    }


def ray_temp_dir(settings: ClusterSettings) -> Path:
    # Ray's session paths end in sockets, whose paths are capped at 107 bytes: keep the prefix short.
    return Path("/tmp") / f"rayship-{settings.gcs_port}"


def mlflow_db_path(settings: ClusterSettings) -> Path:
    return settings.state_dir / "mlflow.db"


def _object_store_flag(settings: ClusterSettings, total_memory_bytes: int) -> list[str]:
    size = object_store_bytes(settings, total_memory_bytes)
    return [] if size is None else [f"--object-store-memory={size}"]


def prometheus_command(settings: ClusterSettings, prometheus_bin: str) -> list[str]:
    """A Prometheus server on the settings' host, its data and config under `<state_dir>/prometheus/`."""
    home = prometheus_dir(settings)
    return [
        prometheus_bin,
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address={settings.host}:{settings.prometheus_port}",
        "--web.enable-lifecycle",  # POST /-/reload re-reads the rules after `monitoring apply`
    ]


def prometheus_config(settings: ClusterSettings) -> dict:
    """Scrape every Ray node through the service-discovery file Ray keeps in its session directory."""
    interval = f"{settings.prometheus_interval_s}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(prometheus_rules_path(settings))],
        "scrape_configs": [
            {
                "job_name": "ray",
                "file_sd_configs": [
                    {"files": [str(ray_service_discovery_path(settings))], "refresh_interval": interval}
                ],
                # Ray's own labels (model, version, WorkerId, ...) win over the target's.
                "honor_labels": True,
            }
        ],
    }


def ray_service_discovery_path(settings: ClusterSettings) -> Path:
    return ray_temp_dir(settings) / "session_latest" / "prom_metrics_service_discovery.json"


def prometheus_dir(settings: ClusterSettings) -> Path:
    return settings.state_dir / "prometheus"


def prometheus_rules_path(settings: ClusterSettings) -> Path:
    return prometheus_dir(settings) / "rules.yml"
