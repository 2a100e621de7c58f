"""The laptop -> cluster Serve config transform and the loading of `configs/serve.yaml`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from deployments.app_config import gateway_app, version_app
from kuberay.errors import ServeConfigError
from kuberay.serve_config_v2 import cluster_serve_config, load_serve_config, serve_config_yaml

LOCAL = {
    "proxy_location": "EveryNode",
    "http_options": {"host": "127.0.0.1", "port": 8000, "request_timeout_s": 30},
    "applications": [version_app("iris", "1")],
}
IRIS_POLICY = {"models": {"iris": {"versions": [{"version": "1", "app": "iris-v1", "weight": 100}]}}}


def test_cluster_copy_binds_all_interfaces_and_keeps_everything_else() -> None:
    cluster = cluster_serve_config(LOCAL)

    assert cluster["http_options"] == {"host": "0.0.0.0", "port": 8000, "request_timeout_s": 30}
    assert {k: v for k, v in cluster.items() if k != "http_options"} == {
        k: v for k, v in LOCAL.items() if k != "http_options"
    }


def test_cluster_copy_forces_the_port_kuberay_serves_on() -> None:
    cluster = cluster_serve_config({**LOCAL, "http_options": {"host": "127.0.0.1", "port": 8123}})

    assert cluster["http_options"] == {"host": "0.0.0.0", "port": 8000}


def test_cluster_copy_adds_http_options_when_absent_and_never_mutates_its_input() -> None:
    local = {k: v for k, v in LOCAL.items() if k != "http_options"}
    before = copy.deepcopy(local)

    cluster = cluster_serve_config(local)
    cluster["applications"][0]["args"]["model_uri"] = "changed"

    assert cluster["http_options"] == {"host": "0.0.0.0", "port": 8000}
    assert local == before


def test_yaml_round_trips_and_keeps_key_order() -> None:
    text = serve_config_yaml(LOCAL)

    assert yaml.safe_load(text) == LOCAL
    assert text.splitlines()[0] == "proxy_location: EveryNode"


def test_the_repository_serve_config_loads(repo_root: Path) -> None:
    config = load_serve_config(repo_root / "configs" / "serve.yaml")

    assert config["applications"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    with pytest.raises(ServeConfigError) as err:
        load_serve_config(path)
    assert str(err.value) == f"Serve config {path}: cannot be read (No such file or directory)"
    assert err.value.status_code == 400


def test_config_without_applications_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("proxy_location: EveryNode\n")
    with pytest.raises(ServeConfigError) as err:
        load_serve_config(path)
    assert str(err.value) == f"Serve config {path}: is not a mapping with an 'applications' list"


def test_config_that_ray_rejects_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("applications:\n  - name: a\n    route_prefix: /\n")
    with pytest.raises(ServeConfigError) as err:
        load_serve_config(path)
    assert str(err.value).startswith(f"Serve config {path}: fails Ray's ServeDeploySchema at 'applications.0.")
    assert "import_path" in str(err.value)


def test_a_config_without_the_gateway_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(LOCAL))
    with pytest.raises(ServeConfigError) as err:
        load_serve_config(path)
    assert str(err.value) == f"Serve config {path}: has no application 'gateway' with a deployment 'Gateway'"


def test_a_config_with_the_gateway_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    config = {**LOCAL, "applications": [gateway_app(IRIS_POLICY), *LOCAL["applications"]]}
    path.write_text(yaml.safe_dump(config))
    assert load_serve_config(path) == config
