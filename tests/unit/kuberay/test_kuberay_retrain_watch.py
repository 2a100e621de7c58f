"""The retraining trigger on KubeRay: its template ConfigMap is the overlay's rendered sweep RayJob, and its pod
and rights are what `monitoring/retrain/kuberay_jobs.py` needs and no more."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

OVERLAYS = ("dev", "prod")
WATCH = "rayship-retrain-watch"
TEMPLATE_MOUNT = "/etc/rayship/retrain"


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def watch_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", WATCH)["spec"]["template"]["spec"]


def template_config_map(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ConfigMap the trigger's pod mounts, followed through its volume (the name carries Kustomize's hash)."""
    (volume,) = [v for v in watch_pod(docs)["volumes"] if "configMap" in v]
    return find(docs, "ConfigMap", volume["configMap"]["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_template_configmap_is_the_rendered_sweep_rayjob(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    docs = overlay_docs[overlay]
    config_map = template_config_map(docs)

    template = yaml.safe_load(config_map["data"]["rayjob.yaml"])

    assert config_map["metadata"]["name"].startswith("rayship-retrain-template-")
    assert template == find(docs, "RayJob", "rayship-sweep")


def test_the_templates_differ_where_the_overlays_do(overlay_docs: dict[str, list[dict[str, Any]]]) -> None:
    dev, prod = (yaml.safe_load(template_config_map(overlay_docs[o])["data"]["rayjob.yaml"]) for o in OVERLAYS)

    assert dev["metadata"]["namespace"] == "rayship-dev"
    assert prod["metadata"]["namespace"] == "rayship"
    assert prod["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_trigger_runs_watch_with_the_kuberay_runner_and_the_mounted_template(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    deployment = find(overlay_docs[overlay], "Deployment", WATCH)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert deployment["spec"]["replicas"] == 1
    assert container["command"] + container["args"] == [
        "python",
        "-m",
        "monitoring",
        "watch",
        "--model=iris",
        "--runner=kuberay",
        "--prometheus=http://prometheus-operated.monitoring.svc:9090",
        f"--rayjob-template={TEMPLATE_MOUNT}/rayjob.yaml",
        "--state-dir=/var/lib/rayship",
        # The canary of a version that passed the gate runs against the RayService, in the pod's namespace.
        "--canary-arg=--router=rayservice",
        "--canary-arg=--rayservice=rayship",
        "--canary-arg=--namespace=$(POD_NAMESPACE)",
    ]
    assert container["volumeMounts"] == [
        {"name": "rayjob-template", "mountPath": TEMPLATE_MOUNT, "readOnly": True},
        {"name": "state", "mountPath": "/var/lib/rayship"},
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "rayship-ray-token", "key": "auth_token"}
    assert env["RAYSHIP_SERVE_URL"]["value"] == "http://rayship-serve-svc:8000"
    (tracking,) = [e for e in container["env"] if e["name"] == "MLFLOW_TRACKING_URI"]
    assert tracking["valueFrom"]["secretKeyRef"] == {"name": "rayship-mlflow", "key": "tracking-uri"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False}
    assert pod["serviceAccountName"] == WATCH
    # KubeRayJobRunner.in_cluster reads the mounted service-account token, CA and namespace.
    assert pod.get("automountServiceAccountToken", True) is True


def test_the_trigger_may_read_and_create_rayjobs_and_run_a_canary_only(
    overlay_docs: dict[str, list[dict[str, Any]]],
) -> None:
    docs = overlay_docs["prod"]
    role = find(docs, "Role", WATCH)
    binding = find(docs, "RoleBinding", WATCH)

    assert role["rules"] == [
        {"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["get", "list", "watch", "create"]}
    ]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WATCH}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": WATCH, "namespace": "rayship"}]
    assert find(docs, "ServiceAccount", WATCH)["metadata"]["namespace"] == "rayship"
    # ... and what its canary needs: the rollout driver's Role (read and patch the RayService).
    rollout = find(docs, "RoleBinding", f"{WATCH}-rollout")
    assert rollout["roleRef"]["name"] == "rayship-rollout"
    assert rollout["subjects"] == binding["subjects"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_trigger_pod_is_a_rayship_pod_so_mlflow_admits_it(
    overlay: str, overlay_docs: dict[str, list[dict[str, Any]]]
) -> None:
    docs = overlay_docs[overlay]
    labels = find(docs, "Deployment", WATCH)["spec"]["template"]["metadata"]["labels"]
    (mlflow_rule,) = find(docs, "NetworkPolicy", "rayship-mlflow")["spec"]["ingress"]
    (peer,) = mlflow_rule["from"]

    assert peer["podSelector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/component"] == "retrain-watch"
