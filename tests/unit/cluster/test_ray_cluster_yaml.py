import json
from pathlib import Path

import jsonschema
import ray
import yaml

CONFIG = Path(__file__).parents[3] / "cluster" / "ray-cluster.yaml"


def load() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_vm_cluster_config_passes_rays_own_schema():
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(load(), schema)


def test_every_node_starts_with_token_auth_and_one_blas_thread():
    config = load()
    for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        if "ray start" in command or "ray stop" in command:
            assert "RAY_AUTH_MODE=token" in command
        if "ray start" in command:
            assert "OMP_NUM_THREADS=1" in command and "--object-store-memory=" in command


def test_dashboard_and_mlflow_stay_on_the_heads_loopback():
    head = " ".join(load()["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head
    assert "mlflow server --host 127.0.0.1" in head


def test_every_node_runs_serve_in_its_high_throughput_mode_through_rayship_haproxy():
    config = load()
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2
    for command in starts:
        for setting in (
            "RAY_SERVE_THROUGHPUT_OPTIMIZED=1",
            "RAY_SERVE_ENABLE_HA_PROXY=1",
            "RAY_SERVE_HAPROXY_METRICS_ENABLED=0",
            "RAY_worker_niceness=0",
            "RAY_SERVE_HAPROXY_BINARY_PATH=$HOME/venv/bin/rayship-haproxy",
        ):
            assert setting in command.split(), setting
