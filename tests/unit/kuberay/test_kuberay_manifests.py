"""The rendered overlays: strict CRD validation, core-object schemas, and what rayship relies on in them."""

from __future__ import annotations

import copy
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from monitoring.alert_rules import load_specs, rules_document
from monitoring.dashboards import build_dashboard

OVERLAYS = ("dev", "prod")
# The Kubernetes version whose schemas kubernetes-validate checks core objects against (it ships 1.x up to 1.37).
K8S_VERSION = "1.32"
# Custom resources: kubernetes-validate has no schema for them. ray.io kinds are checked against the KubeRay CRDs
# instead; monitoring.coreos.com kinds (Prometheus Operator) are not schema-checked here at all.
CUSTOM_KINDS = {"RayService", "RayJob", "PodMonitor", "ServiceMonitor", "PrometheusRule"}
SWEEP_ENTRYPOINT = "python -m training sweep --config configs/training/iris-sklearn.yaml --register --alias challenger"


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def ray_containers(cluster_spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [cluster_spec["headGroupSpec"], *cluster_spec["workerGroupSpecs"]]
    return [c for group in groups for c in group["template"]["spec"]["containers"]]


def mlflow_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", "rayship-mlflow")["spec"]["template"]["spec"]["containers"][0]


def env_secret(container: dict[str, Any], name: str) -> dict[str, str]:
    (entry,) = [e for e in container["env"] if e["name"] == name]
    return entry["valueFrom"]["secretKeyRef"]


def test_both_overlays_render(overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    assert sorted(overlay_docs) == sorted(OVERLAYS)
    assert {d["metadata"]["namespace"] for d in overlay_docs["dev"] if d["kind"] != "Namespace"} == {"rayship-dev"}
    assert {d["metadata"]["namespace"] for d in overlay_docs["prod"] if d["kind"] != "Namespace"} == {"rayship"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_ray_document_passes_strict_crd_validation(
    overlay: str, rendered: dict[str, str], crds_dir: Path, validate_kuberay: Any, tmp_path: Path, capsys
) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered[f"kuberay/rendered/{overlay}.yaml"])

    exit_code = validate_kuberay.main(["--crds", str(crds_dir), str(manifest)])

    out = capsys.readouterr().out
    assert exit_code == 0, out
    assert f"{manifest}: RayService/rayship: valid" in out
    assert f"{manifest}: RayJob/rayship-sweep: valid" in out
    assert "2 of 2 ray.io documents valid" in out


def test_strict_validation_rejects_an_unknown_field(
    overlay_docs: dict[str, list[dict[str, Any]]], crds_dir: Path, validate_kuberay: Any, tmp_path: Path, capsys
) -> None:
    service = copy.deepcopy(find(overlay_docs["dev"], "RayService", "rayship"))
    service["spec"]["rayClusterConfig"]["headGroupSpec"]["dashboardHost"] = "0.0.0.0"
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(service))

    assert validate_kuberay.main(["--crds", str(crds_dir), str(manifest)]) == 1
    assert "'dashboardHost' was unexpected" in capsys.readouterr().out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_pass_kubernetes_schema_validation(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    core = [d for d in overlay_docs[overlay] if d["kind"] not in CUSTOM_KINDS]
    assert {d["kind"] for d in overlay_docs[overlay]} - {d["kind"] for d in core} == CUSTOM_KINDS
    for doc in core:
        assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == K8S_VERSION


def test_kubernetes_validate_is_strict_about_unknown_fields(overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    deployment = copy.deepcopy(find(overlay_docs["dev"], "Deployment", "rayship-mlflow"))
    deployment["spec"]["template"]["spec"]["containers"][0]["bogus"] = True

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serve_config_v2_is_configs_serve_yaml(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]], repo_root: Path
) -> None:
    local = yaml.safe_load((repo_root / "configs" / "serve.yaml").read_text())
    service = find(overlay_docs[overlay], "RayService", "rayship")

    embedded = yaml.safe_load(service["spec"]["serveConfigV2"])

    assert embedded["applications"] == local["applications"]
    assert embedded["http_options"] == {**local.get("http_options", {}), "host": "0.0.0.0", "port": 8000}
    assert {k: v for k, v in embedded.items() if k != "http_options"} == {
        k: v for k, v in local.items() if k != "http_options"
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_versions_and_images_are_pinned(overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    ray_version = metadata.version("ray")
    image = f"rayship:{metadata.version('rayship')}-ray{ray_version}"
    service = find(overlay_docs[overlay], "RayService", "rayship")
    job = find(overlay_docs[overlay], "RayJob", "rayship-sweep")

    assert service["spec"]["rayClusterConfig"]["rayVersion"] == ray_version
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == ray_version
    images = {c["image"] for c in ray_containers(service["spec"]["rayClusterConfig"])}
    images |= {c["image"] for c in ray_containers(job["spec"]["rayClusterSpec"])}
    images |= {c["image"] for c in job["spec"]["submitterPodTemplate"]["spec"]["containers"]}
    images.add(mlflow_container(overlay_docs[overlay])["image"])
    assert images == {image}


def test_dockerfile_builds_on_the_pinned_ray_image(repo_root: Path) -> None:
    froms = [line for line in (repo_root / "Dockerfile").read_text().splitlines() if line.startswith("FROM ")]

    assert froms == [f"FROM rayproject/ray:{metadata.version('ray')}-py311-cpu"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rayservice_cluster_is_autoscaled_authenticated_and_internal(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    spec = find(overlay_docs[overlay], "RayService", "rayship")["spec"]
    cluster = spec["rayClusterConfig"]

    assert spec["upgradeStrategy"] == {"type": "NewCluster"}
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["autoscalerOptions"]["version"] == "v2"
    assert cluster["authOptions"] == {"mode": "token", "secretName": "rayship-ray-token"}
    assert cluster["headGroupSpec"]["serviceType"] == "ClusterIP"
    for container in ray_containers(cluster):
        assert set(container["resources"]) == {"requests", "limits"}
        assert env_secret(container, "MLFLOW_TRACKING_URI") == {"name": "rayship-mlflow", "key": "tracking-uri"}
        assert env_secret(container, "RAYSHIP_API_KEYS") == {"name": "rayship-api-keys", "key": "api-keys"}


def env_values(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_ray_pod_runs_serve_in_its_high_throughput_mode_through_rayship_haproxy(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    cluster = find(overlay_docs[overlay], "RayService", "rayship")["spec"]["rayClusterConfig"]
    fast = {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
        "RAY_worker_niceness": "0",
        "RAY_SERVE_HAPROXY_BINARY_PATH": "/home/ray/anaconda3/bin/rayship-haproxy",  # the Dockerfile checks it
    }
    for container in ray_containers(cluster):
        assert env_values(container).items() >= fast.items()
    assert env_values(mlflow_container(overlay_docs[overlay]))["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_prod_is_larger_and_fault_tolerant(overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    dev, prod = (find(overlay_docs[o], "RayService", "rayship")["spec"]["rayClusterConfig"] for o in OVERLAYS)

    assert "gcsFaultToleranceOptions" not in dev
    assert prod["gcsFaultToleranceOptions"]["redisPassword"]["valueFrom"]["secretKeyRef"] == {
        "name": "rayship-redis",
        "key": "password",
    }
    assert prod["workerGroupSpecs"][0]["minReplicas"] > dev["workerGroupSpecs"][0]["minReplicas"]
    assert prod["workerGroupSpecs"][0]["maxReplicas"] > dev["workerGroupSpecs"][0]["maxReplicas"]


def test_mlflow_uses_sqlite_in_dev_and_a_secret_database_in_prod(
    overlay_docs: dict[str, list[dict[str, Any]]],
) -> None:
    def backend(overlay: str) -> dict[str, Any]:
        (entry,) = [
            e for e in mlflow_container(overlay_docs[overlay])["env"] if e["name"] == "MLFLOW_BACKEND_STORE_URI"
        ]
        return entry

    assert backend("dev") == {"name": "MLFLOW_BACKEND_STORE_URI", "value": "sqlite:////mlflow/mlflow.db"}
    assert backend("prod")["valueFrom"]["secretKeyRef"] == {"name": "rayship-mlflow-db", "key": "backend-store-uri"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sweep_rayjob_runs_the_training_cli_and_cleans_up(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    spec = find(overlay_docs[overlay], "RayJob", "rayship-sweep")["spec"]

    assert spec["entrypoint"] == SWEEP_ENTRYPOINT
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["suspend"] is True


def test_dashboard_and_gcs_are_reachable_only_from_rayship_and_the_operator(
    overlay_docs: dict[str, list[dict[str, Any]]],
) -> None:
    policy = find(overlay_docs["prod"], "NetworkPolicy", "rayship-ray")["spec"]
    open_rules = [rule for rule in policy["ingress"] if "from" not in rule]
    operator_rules = [r for r in policy["ingress"] if any("namespaceSelector" in f for f in r.get("from", []))]

    assert policy["policyTypes"] == ["Ingress"]
    assert [p["port"] for rule in open_rules for p in rule["ports"]] == [8000, 9000]  # Serve HTTP and gRPC
    assert 6379 not in [p["port"] for rule in operator_rules for p in rule["ports"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grafana_dashboard_ships_as_a_configmap_built_by_monitoring_dashboards(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    # What the dashboard shows is tested with its code (tests/unit/monitoring/test_dashboards.py).
    config_map = find(overlay_docs[overlay], "ConfigMap", "rayship-grafana-dashboard")

    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["rayship-dashboard.json"]) == build_dashboard()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_alert_rules_ship_as_a_prometheus_rule_built_from_the_monitoring_specs(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]], repo_root: Path
) -> None:
    # The rules themselves are tested with promtool (tests/unit/monitoring/test_alert_rules.py).
    rule = find(overlay_docs[overlay], "PrometheusRule", "rayship-alerts")

    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == {"dev": "rayship-dev", "prod": "rayship"}[overlay]
    assert rule["spec"] == rules_document(load_specs(repo_root / "configs" / "monitoring"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_monitors_scrape_the_ray_metrics_port(overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    service_monitor = find(overlay_docs[overlay], "ServiceMonitor", "rayship-ray-head")
    pod_monitor = find(overlay_docs[overlay], "PodMonitor", "rayship-ray-workers")
    head_metrics = find(overlay_docs[overlay], "Service", "rayship-ray-head-metrics")

    assert service_monitor["apiVersion"] == pod_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert [e["port"] for e in service_monitor["spec"]["endpoints"]] == ["metrics"]
    assert [e["port"] for e in pod_monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= head_metrics["metadata"]["labels"].items()


def test_rollout_role_can_read_and_patch_the_rayservice_only(overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    role = find(overlay_docs["dev"], "Role", "rayship-rollout")

    assert role["rules"] == [
        {"apiGroups": ["ray.io"], "resources": ["rayservices"], "verbs": ["get", "list", "watch", "patch"]}
    ]
