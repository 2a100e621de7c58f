"""The KubeRay job runner: the RayJob it creates (valid against the KubeRay CRD) and how it reads the API's answers.

No Kubernetes API server can run on this machine: `httpx.MockTransport` stands in for one, answering with the
status codes and `Status` bodies the real API server sends (201 on create, 409 AlreadyExists, 404 NotFound naming
the object, a plain 404 when the RayJob CRD is not installed).
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
import yaml

from monitoring.errors import (
    JobRunnerUnavailableError,
    RetrainJobInvalidError,
    RetrainJobNotFoundError,
    RetrainTemplateError,
)
from monitoring.retrain.jobs import JobRequest, JobView
from monitoring.retrain.kuberay_jobs import KubeRayJobRunner, label_value, load_template, rayjob_manifest
from tests.unit.kuberay import conftest as kuberay_fixtures

# The CRD folder and the strict validator, found as the KubeRay manifest tests find them (skipped when absent).
crds_dir = kuberay_fixtures.crds_dir
validate_kuberay = kuberay_fixtures.validate_kuberay

REPO_ROOT = Path(__file__).resolve().parents[3]
OVERLAYS = ("dev", "prod")
API = "https://k8s.test"
NS = "rayship"
WHERE = f"RayJob API in namespace {NS} ({API})"
RAYJOBS = f"{API}/apis/ray.io/v1/namespaces/{NS}/rayjobs"
ENTRYPOINT = ["python", "-m", "training", "sweep", "--config", "configs/training/iris-sklearn.yaml", "--alias", "c 1"]
REQUEST = JobRequest(
    submission_id="retrain-iris-20261202t0600",
    entrypoint=ENTRYPOINT,
    metadata={"model": "iris", "alert": "RayshipPredictionDrift", "window": "2026-12-02T06:00:00Z"},
)


def template_of(overlay: str) -> dict[str, Any]:
    """The template the overlay's trigger pod mounts (the generated ConfigMap's rayjob.yaml)."""
    return load_template(REPO_ROOT / "kuberay" / "overlays" / overlay / "generated" / "rayjob.yaml")


def k8s_status(code: int, reason: str, message: str, **details: str) -> dict[str, Any]:
    """A Kubernetes `Status` error body."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}
    return body | {"code": code, "details": details} if details else body | {"code": code}


class FakeApi:
    """Answers every request with the next queued response and keeps the requests it saw."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def runner(api: FakeApi, token: Any = "t0ken", template: dict[str, Any] | None = None) -> KubeRayJobRunner:
    template = template or template_of("dev")
    return KubeRayJobRunner(template, NS, API + "/", token, None, transport=httpx.MockTransport(api))


def rayjob(status: dict[str, Any] | None) -> httpx.Response:
    body = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": REQUEST.submission_id}}
    return httpx.Response(200, json=body | ({"status": status} if status is not None else {}))


# rayjob_manifest


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_manifest_of_a_request_passes_strict_rayjob_crd_validation(
    overlay: str, crds_dir: Path, validate_kuberay: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rayjob.yaml"
    manifest.write_text(yaml.safe_dump(rayjob_manifest(template_of(overlay), REQUEST, NS)))

    exit_code = validate_kuberay.main(["--crds", str(crds_dir), str(manifest)])

    out = capsys.readouterr().out
    assert exit_code == 0, out
    assert f"{manifest}: RayJob/{REQUEST.submission_id}: valid" in out


def test_the_manifest_names_labels_annotates_and_unsuspends_the_job() -> None:
    template = template_of("prod")

    manifest = rayjob_manifest(template, REQUEST, "rayship-dev")

    assert manifest["metadata"] == {
        "name": "retrain-iris-20261202t0600",
        "namespace": "rayship-dev",
        "labels": {
            "app.kubernetes.io/managed-by": "rayship-retrain-watch",
            "app.kubernetes.io/part-of": "rayship",
            "rayship.io/environment": "prod",
            "rayship.io/retrain-model": "iris",
        },
        "annotations": {
            "rayship.io/model": "iris",
            "rayship.io/alert": "RayshipPredictionDrift",
            "rayship.io/window": "2026-12-02T06:00:00Z",
        },
    }
    assert manifest["spec"]["suspend"] is False
    assert manifest["spec"]["entrypoint"] == shlex.join(ENTRYPOINT)
    assert shlex.split(manifest["spec"]["entrypoint"]) == ENTRYPOINT


def test_the_manifest_keeps_the_rest_of_the_template_and_leaves_it_unchanged() -> None:
    template = template_of("prod")
    before = copy.deepcopy(template)

    spec = rayjob_manifest(template, REQUEST, NS)["spec"]

    assert template == before
    assert {k: v for k, v in spec.items() if k not in ("suspend", "entrypoint")} == {
        k: v for k, v in template["spec"].items() if k not in ("suspend", "entrypoint")
    }
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] == 3  # prod's size, from its overlay


def test_the_manifest_drops_what_belongs_to_another_object() -> None:
    live = copy.deepcopy(template_of("dev"))
    live["metadata"] |= {"resourceVersion": "123", "uid": "u-1", "generation": 4, "creationTimestamp": "2026-12-01"}
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "ml"}
    live["status"] = {"jobStatus": "SUCCEEDED"}

    manifest = rayjob_manifest(live, REQUEST, NS)

    assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(manifest["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert manifest["metadata"]["annotations"]["team"] == "ml"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in manifest["metadata"]["annotations"]


def test_label_values_and_annotation_keys_are_made_label_safe() -> None:
    request = REQUEST.model_copy(update={"metadata": {"model": "Iris Model/v2!", "alert name": "x"}})

    metadata = rayjob_manifest(template_of("dev"), request, NS)["metadata"]

    assert label_value("-" + "a" * 70) == "a" * 63
    assert metadata["labels"]["rayship.io/retrain-model"] == "Iris-Model-v2"
    assert metadata["annotations"]["rayship.io/alert-name"] == "x"
    assert metadata["annotations"]["rayship.io/model"] == "Iris Model/v2!"  # annotation values are free text


def test_a_request_without_a_model_gets_no_model_label() -> None:
    request = REQUEST.model_copy(update={"metadata": {}})

    metadata = rayjob_manifest(template_of("dev"), request, NS)["metadata"]

    assert "rayship.io/retrain-model" not in metadata["labels"]
    assert metadata["annotations"] == {}


# submit


def test_submit_creates_the_rayjob_and_a_201_is_true() -> None:
    api = FakeApi(httpx.Response(201, json={"kind": "RayJob"}))

    assert runner(api).submit(REQUEST) is True

    (sent,) = api.requests
    assert (sent.method, str(sent.url)) == ("POST", RAYJOBS)
    assert sent.headers["Authorization"] == "Bearer t0ken"
    assert json.loads(sent.content) == rayjob_manifest(template_of("dev"), REQUEST, NS)


def test_submit_of_an_existing_job_is_false() -> None:
    exists = k8s_status(409, "AlreadyExists", f'rayjobs.ray.io "{REQUEST.submission_id}" already exists')
    api = FakeApi(httpx.Response(409, json=exists))

    assert runner(api).submit(REQUEST) is False


def test_a_server_error_on_submit_names_the_url_and_the_api_message() -> None:
    api = FakeApi(httpx.Response(500, json=k8s_status(500, "InternalError", "etcdserver: request timed out")))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).submit(REQUEST)

    assert str(caught.value) == (
        f"Cannot reach {WHERE}: POST {RAYJOBS} returned HTTP 500: etcdserver: request timed out"
    )


def test_a_forbidden_create_is_unavailable_with_the_rbac_message() -> None:
    message = 'rayjobs.ray.io is forbidden: User "system:serviceaccount:rayship:default" cannot create resource'
    api = FakeApi(httpx.Response(403, json=k8s_status(403, "Forbidden", message)))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).submit(REQUEST)

    assert str(caught.value) == f"Cannot reach {WHERE}: POST {RAYJOBS} returned HTTP 403: {message}"


def test_a_transport_error_on_submit_is_unavailable() -> None:
    api = FakeApi(httpx.ConnectError("[Errno 111] Connection refused"))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).submit(REQUEST)

    assert str(caught.value) == (
        f"Cannot reach {WHERE}: POST {RAYJOBS} failed (ConnectError: [Errno 111] Connection refused)"
    )


@pytest.mark.parametrize(
    ("submission_id", "reason"),
    [
        ("r" * 48, "KubeRay takes RayJob names of at most 47 characters (it has 48)"),
        ("1-retrain", "KubeRay takes only DNS-1035 labels as RayJob names (a lowercase letter first)"),
    ],
)
def test_a_name_kuberay_would_reject_is_refused_before_any_request(submission_id: str, reason: str) -> None:
    api = FakeApi()

    with pytest.raises(RetrainJobInvalidError) as caught:
        runner(api).submit(REQUEST.model_copy(update={"submission_id": submission_id}))

    assert str(caught.value) == f"Retraining job '{submission_id}' cannot run on {WHERE}: {reason}"
    assert api.requests == []


def test_the_token_is_read_again_for_every_request(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    api = FakeApi(httpx.Response(201), httpx.Response(201))
    jobs = runner(api, token=lambda: token_file.read_text().strip())

    jobs.submit(REQUEST)
    token_file.write_text("rotated\n")
    jobs.submit(REQUEST)

    assert [r.headers["Authorization"] for r in api.requests] == ["Bearer first", "Bearer rotated"]


# view


@pytest.mark.parametrize(
    ("status", "view"),
    [
        (None, ("PENDING", None)),
        ({"jobDeploymentStatus": "Initializing", "jobStatus": ""}, ("PENDING", None)),
        ({"jobDeploymentStatus": "Running", "jobStatus": "PENDING"}, ("PENDING", None)),
        ({"jobDeploymentStatus": "Running", "jobStatus": "RUNNING", "jobId": "j-1"}, ("RUNNING", None)),
        ({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}, ("SUCCEEDED", None)),
        (
            {"jobDeploymentStatus": "Complete", "jobStatus": "FAILED", "message": "Job entrypoint command failed"},
            ("FAILED", "Job entrypoint command failed"),
        ),
        ({"jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"}, ("STOPPED", None)),
        (
            {
                "jobDeploymentStatus": "Failed",
                "jobStatus": "RUNNING",
                "reason": "DeadlineExceeded",
                "message": "The RayJob has passed the activeDeadlineSeconds.",
            },
            ("FAILED", "The RayJob has passed the activeDeadlineSeconds."),
        ),
        ({"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed"}, ("FAILED", "ValidationFailed")),
    ],
)
def test_view_maps_the_rayjob_status(status: dict[str, Any] | None, view: tuple[str, str | None]) -> None:
    api = FakeApi(rayjob(status))

    got = runner(api).view(REQUEST.submission_id)

    assert got == JobView(submission_id=REQUEST.submission_id, state=view[0], message=view[1])
    (sent,) = api.requests
    assert (sent.method, str(sent.url)) == ("GET", f"{RAYJOBS}/{REQUEST.submission_id}")


def test_view_of_an_unknown_job_is_not_found() -> None:
    missing = k8s_status(404, "NotFound", 'rayjobs.ray.io "nope" not found', name="nope", group="ray.io")
    api = FakeApi(httpx.Response(404, json=missing))

    with pytest.raises(RetrainJobNotFoundError) as caught:
        runner(api).view("nope")

    assert str(caught.value) == f"Retraining job 'nope' is not known to {WHERE}"


def test_a_404_without_the_object_means_the_rayjob_api_is_missing() -> None:
    no_crd = k8s_status(404, "NotFound", "the server could not find the requested resource")
    api = FakeApi(httpx.Response(404, json=no_crd))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).view("nope")

    assert str(caught.value) == (
        f"Cannot reach {WHERE}: GET {RAYJOBS}/nope returned HTTP 404: the server could not find the requested resource"
    )


def test_an_unknown_job_status_is_an_error_not_a_guess() -> None:
    api = FakeApi(rayjob({"jobDeploymentStatus": "Running", "jobStatus": "EXPLODED"}))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).view(REQUEST.submission_id)

    assert str(caught.value) == (
        f"Cannot reach {WHERE}: RayJob '{REQUEST.submission_id}' reports jobStatus 'EXPLODED', "
        "which is no Ray job state"
    )


def test_a_non_json_error_page_is_reported_as_text() -> None:
    api = FakeApi(httpx.Response(502, text="<html>Bad Gateway</html>"))

    with pytest.raises(JobRunnerUnavailableError) as caught:
        runner(api).view(REQUEST.submission_id)

    assert str(caught.value).endswith("returned HTTP 502: <html>Bad Gateway</html>")


# the template file and in_cluster


def service_account(tmp_path: Path, namespace: str = "rayship-dev") -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text("sa-token\n")
    (folder / "namespace").write_text(namespace)
    shutil.copy(certifi.where(), folder / "ca.crt")  # any valid PEM bundle
    return folder


def test_in_cluster_reads_the_service_account_and_the_api_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    template = REPO_ROOT / "kuberay" / "overlays" / "dev" / "generated" / "rayjob.yaml"

    jobs = KubeRayJobRunner.in_cluster(template, service_account_dir=service_account(tmp_path))

    assert jobs.where == "RayJob API in namespace rayship-dev (https://10.96.0.1:443)"
    assert jobs.template == template_of("dev")
    other = KubeRayJobRunner.in_cluster(template, "other", service_account_dir=tmp_path / "serviceaccount")
    assert other.namespace == "other"


def test_in_cluster_brackets_an_ipv6_service_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    template = REPO_ROOT / "kuberay" / "overlays" / "dev" / "generated" / "rayjob.yaml"

    jobs = KubeRayJobRunner.in_cluster(template, service_account_dir=service_account(tmp_path))

    assert jobs.api_url == "https://[fd00::1]:443"


def test_in_cluster_outside_a_pod_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(JobRunnerUnavailableError) as caught:
        KubeRayJobRunner.in_cluster("rayjob.yaml")

    assert str(caught.value) == (
        "Cannot reach the Kubernetes API: "
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)"
    )


def test_in_cluster_without_a_token_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    with pytest.raises(JobRunnerUnavailableError) as caught:
        KubeRayJobRunner.in_cluster("rayjob.yaml", service_account_dir=tmp_path)

    token = tmp_path / "token"
    assert str(caught.value) == f"Cannot reach the Kubernetes API: cannot read {token} (No such file or directory)"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "it cannot be read (No such file or directory)"),
        ("a: [", "it is not YAML"),
        ("apiVersion: v1\nkind: ConfigMap\n", "it is not a ray.io/v1 RayJob"),
        ("apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: x}\n", "it has no spec"),
    ],
)
def test_a_template_file_that_is_no_rayjob_is_invalid(tmp_path: Path, text: str | None, reason: str) -> None:
    path = tmp_path / "rayjob.yaml"
    if text is not None:
        path.write_text(text)

    with pytest.raises(RetrainTemplateError) as caught:
        load_template(path)

    assert str(caught.value).startswith(f"RayJob template '{path}' is invalid: {reason}")
