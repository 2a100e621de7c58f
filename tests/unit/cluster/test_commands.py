from pathlib import Path

import pytest
from pydantic import ValidationError

from cluster import commands
from cluster.settings import ClusterSettings, settings_from_env
from deployments.app_config import GRPC_SERVICER

GIB = 1024**3


@pytest.fixture
def settings(tmp_path: Path) -> ClusterSettings:
    return ClusterSettings(state_dir=tmp_path)


def flags(cmd: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in cmd if arg.startswith("--") and "=" in arg)


def test_head_command_binds_http_to_loopback_and_sets_every_port(settings):
    cmd = commands.ray_head_command(settings, "ray", total_memory_bytes=24 * GIB, cpu_count=2)
    assert cmd[:4] == ["ray", "start", "--head", "--block"]
    assert flags(cmd) == {
        "port": "6379",
        "include-dashboard": "true",
        "dashboard-host": "127.0.0.1",
        "dashboard-port": "8265",
        "metrics-export-port": "8080",
        "ray-client-server-port": "10001",
        "num-cpus": "2",
        "temp-dir": "/tmp/rayship-6379",
        "node-manager-port": "52400",
        "object-manager-port": "52401",
        "dashboard-agent-listen-port": "52403",
        "dashboard-agent-grpc-port": "52404",
        "runtime-env-agent-port": "52405",
        "object-store-memory": str(GIB),
    }


def test_object_store_is_bounded_on_small_machines_only(settings):
    assert commands.object_store_bytes(settings, 24 * GIB) == GIB
    assert commands.object_store_bytes(settings, 64 * GIB) is None
    sized = settings.model_copy(update={"object_store_bytes": 512 * 1024**2})
    assert commands.object_store_bytes(sized, 64 * GIB) == 512 * 1024**2


def test_head_cpus_override_the_machine_count(settings):
    cmd = commands.ray_head_command(settings.model_copy(update={"head_cpus": 1}), "ray", 64 * GIB, 8)
    assert flags(cmd)["num-cpus"] == "1"
    assert "object-store-memory" not in flags(cmd)


def test_worker_commands_join_the_head_with_ports_that_do_not_collide(settings):
    first = flags(commands.ray_worker_command(settings, 1, "ray", 24 * GIB))
    second = flags(commands.ray_worker_command(settings, 2, "ray", 24 * GIB))
    assert first["address"] == second["address"] == "127.0.0.1:6379"
    assert first["num-cpus"] == "1"
    port_keys = [k for k in first if k.endswith("-port")]
    assert len(port_keys) == 6
    assert not {first[k] for k in port_keys} & {second[k] for k in port_keys}


def test_mlflow_command_serves_artifacts_from_the_state_dir(settings, tmp_path):
    cmd = commands.mlflow_command(settings, python_bin="py")
    assert cmd[:4] == ["py", "-m", "mlflow", "server"]
    opts = dict(zip(cmd[4::2], cmd[5::2], strict=False))
    assert opts["--host"] == "127.0.0.1"
    assert opts["--port"] == "5000"
    assert opts["--backend-store-uri"] == f"sqlite:///{tmp_path}/mlflow.db"
    assert opts["--artifacts-destination"] == str(tmp_path / "mlflow-artifacts")
    assert "--serve-artifacts" in cmd


def test_ray_env_turns_token_auth_on_and_pins_threads(settings, tmp_path):
    env = commands.ray_env(
        settings, {"PATH": "/bin", "RAY_AUTH_TOKEN": "leak", "RAY_ADDRESS": "x"}, tmp_path / "t", tmp_path / "bin"
    )
    assert env["RAY_AUTH_MODE"] == "token"
    assert env["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / "t")
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["RAY_worker_niceness"] == "0"  # replicas are not demoted below Ray's daemons
    # Serve's gRPC servers bind the settings' host, through Ray's proxy hook (deployments/gateway/oip_grpc/loopback.py)
    assert env["RAYSHIP_GRPC_HOST"] == "127.0.0.1"
    assert env["RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"] == "deployments.gateway.oip_grpc.loopback:proxy_callback"
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert env["PATH"] == "/bin"
    assert "RAY_AUTH_TOKEN" not in env
    assert "RAY_ADDRESS" not in env


def test_serve_runs_in_its_high_throughput_mode_by_default_with_haproxy_started_by_rayship(settings, tmp_path):
    env = commands.ray_env(settings, {}, tmp_path / "t", tmp_path / "bin")
    assert (env["RAY_SERVE_THROUGHPUT_OPTIMIZED"], env["RAY_SERVE_ENABLE_HA_PROXY"]) == ("1", "1")
    assert env["RAY_SERVE_HAPROXY_BINARY_PATH"] == str(tmp_path / "bin" / "rayship-haproxy")
    assert (env["RAY_SERVE_HAPROXY_STATS_PORT"], env["RAY_SERVE_HAPROXY_METRICS_PORT"]) == ("8404", "9101")
    assert env["RAY_SERVE_HAPROXY_METRICS_ENABLED"] == "0"  # the gateway counts requests itself
    assert "SERVE_SOCKET_REUSE_PORT_ENABLED" not in env


def test_raylets_sharing_a_host_share_haproxys_ports(settings, tmp_path):
    env = commands.ray_env(settings.model_copy(update={"workers": 2}), {}, tmp_path / "t", tmp_path / "bin")
    assert env["SERVE_SOCKET_REUSE_PORT_ENABLED"] == "1"


def test_the_python_proxy_is_one_setting_away(settings, tmp_path):
    slow = settings_from_env({"RAYSHIP_SERVE_HIGH_THROUGHPUT": "0"})
    assert slow.serve_high_throughput is False
    env = commands.ray_env(slow, {}, tmp_path / "t", tmp_path / "bin")
    assert not set(commands.high_throughput_env(slow, tmp_path / "bin")) & set(env)


def test_mlflow_env_does_not_point_the_server_at_itself():
    assert commands.mlflow_env({"MLFLOW_TRACKING_URI": "http://x", "HOME": "/h"}) == {
        "HOME": "/h",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


def test_serve_start_joins_the_gcs_and_binds_loopback(settings):
    cmd = commands.serve_start_command(settings, "serve")
    assert flags(cmd) == {
        "address": "127.0.0.1:6379",
        "http-host": "127.0.0.1",
        "http-port": "8000",
        "grpc-port": "9000",
        "grpc-servicer-functions": GRPC_SERVICER,
        "proxy-location": "EveryNode",
    }


def test_client_exports_name_every_address_a_client_needs(settings, tmp_path):
    exports = commands.client_exports(settings, tmp_path / "t")
    assert exports == {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(tmp_path / "t"),
        "RAY_ADDRESS": "127.0.0.1:6379",
        "RAY_API_SERVER_ADDRESS": "http://127.0.0.1:8265",
        "RAY_DASHBOARD_ADDRESS": "http://127.0.0.1:8265",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "RAYSHIP_SERVE_URL": "http://127.0.0.1:8000",
        "RAYSHIP_PROMETHEUS_URL": "http://127.0.0.1:9090",
    }


def test_flags_override_env_which_overrides_defaults(tmp_path):
    env = {"RAYSHIP_SERVE_PORT": "9001", "RAYSHIP_MLFLOW_PORT": "5050", "RAYSHIP_STATE_DIR": str(tmp_path)}
    settings = settings_from_env(env, mlflow_port=5100, dashboard_port=None)
    assert (settings.serve_port, settings.mlflow_port, settings.dashboard_port) == (9001, 5100, 8265)
    assert settings.state_dir == tmp_path


def test_relative_state_dir_becomes_absolute():
    assert ClusterSettings().state_dir.is_absolute()


def test_head_and_workers_take_disjoint_port_blocks(settings):
    head, worker = commands.node_ports(settings, 0), commands.node_ports(settings, 1)
    assert min(worker.values()) == max(head.values()) + 5
    assert sorted(head.values()) == list(range(52400, 52406))


def test_a_service_port_in_rays_worker_range_is_refused():
    with pytest.raises(ValidationError, match="mlflow_port 15000 falls in Ray's worker port range 10002-19999"):
        ClusterSettings(mlflow_port=15000)


def test_two_services_on_one_port_are_refused():
    with pytest.raises(ValidationError, match="serve_port and dashboard_port are both set to port 8265"):
        ClusterSettings(serve_port=8265)


def test_unknown_setting_is_refused():
    with pytest.raises(ValidationError, match="extra_forbidden"):
        ClusterSettings(dashbord_port=1)


def test_prometheus_listens_on_the_settings_host_and_keeps_its_data_in_the_state_dir(settings):
    cmd = commands.prometheus_command(settings, "/usr/bin/prometheus")
    home = settings.state_dir / "prometheus"
    assert cmd == [
        "/usr/bin/prometheus",
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=7d",
        "--web.listen-address=127.0.0.1:9090",
        "--web.enable-lifecycle",
    ]


def test_prometheus_scrapes_the_nodes_ray_lists_in_its_session_directory(settings):
    config = commands.prometheus_config(settings)
    assert config["global"] == {"scrape_interval": "5s", "evaluation_interval": "5s"}
    assert config["rule_files"] == [str(settings.state_dir / "prometheus" / "rules.yml")]
    (job,) = config["scrape_configs"]
    sd_file = "/tmp/rayship-6379/session_latest/prom_metrics_service_discovery.json"
    assert job["file_sd_configs"] == [{"files": [sd_file], "refresh_interval": "5s"}]
    assert job["honor_labels"] is True


def test_the_ray_dashboard_reads_its_graphs_from_the_local_prometheus(tmp_path):
    settings = ClusterSettings(state_dir=tmp_path, prometheus_port=9190)
    env = commands.ray_env(settings, {}, tmp_path / "token", tmp_path)
    assert env["RAY_PROMETHEUS_HOST"] == "http://127.0.0.1:9190"
