"""The KubeRay job runner: a retraining job is a `RayJob` created from the rendered sweep RayJob.

On KubeRay the trigger does not submit to a Ray dashboard: it creates a RayJob, and KubeRay brings up an ephemeral
cluster, runs the entrypoint and tears the cluster down (`shutdownAfterJobFinishes`, after the TTL). The template
is the overlay's rendered `rayship-sweep` RayJob (image, Ray version, sizes), which the Deployment
`rayship-retrain-watch` mounts from a ConfigMap (`kuberay/retrain_template.py` generates it); this module only reads
it as a file or dict, so `monitoring` never imports `kuberay`. The Kubernetes API is spoken with httpx: `create` and
`get` on `rayjobs.ray.io` in one namespace, which is all the Role `rayship-retrain-watch` grants (plus list/watch).
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import ssl
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitoring.contract import first_problem
from monitoring.errors import (
    JobRunnerUnavailableError,
    RetrainJobInvalidError,
    RetrainJobNotFoundError,
    RetrainTemplateError,
)
from monitoring.retrain.jobs import JobRequest, JobState, JobView

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
KUBERNETES_API = "the Kubernetes API"
# Bounded: the trigger polls, so a hung API server must cost one poll, not the loop.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CREATED = frozenset({200, 201, 202})  # what the API documents for a create; it answers 201
# KubeRay v1.7 rejects (jobDeploymentStatus ValidationFailed) RayJob names over 47 characters (its RayCluster name
# limit, 53, minus the suffix it appends) and names that are no DNS-1035 label: refuse them before creating one.
MAX_RAYJOB_NAME = 47
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
PART_OF, MANAGED_BY = "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"
MODEL_LABEL = "rayship.io/retrain-model"
ANNOTATION_PREFIX = "rayship.io/"
MANAGER = "rayship-retrain-watch"
# Kept from a template that came from a live object, this would make `kubectl apply` treat the job as its own.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FAILED_DEPLOYMENTS = frozenset({"Failed", "ValidationFailed"})
# KubeRay's jobStatus uses Ray's names; "" is a RayJob whose Ray job was not submitted yet.
JOB_STATES: dict[str, JobState] = {
    "": "PENDING",
    "PENDING": "PENDING",
    "RUNNING": "RUNNING",
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "STOPPED": "STOPPED",
}


class RayJobStatus(BaseModel):
    """The part of a RayJob's `status` the runner reads; KubeRay writes more, which is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, populate_by_name=True)

    job_status: str | None = Field(None, alias="jobStatus", description="Ray's job state; empty before submission.")
    job_deployment_status: str | None = Field(
        None, alias="jobDeploymentStatus", description="KubeRay's lifecycle: Initializing, Running, Failed, ..."
    )
    message: str | None = Field(None, description="KubeRay's explanation, set when a job fails.")
    reason: str | None = Field(None, description="KubeRay's failure reason: DeadlineExceeded, AppFailed, ...")


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value (or the name part of a key): [A-Za-z0-9._-], 63 characters, alphanumeric
    at both ends."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:63].rstrip("-._")


def rayjob_manifest(template: dict[str, Any], request: JobRequest, namespace: str) -> dict[str, Any]:
    """The RayJob that runs `request`: the template with its name, labels, annotations and entrypoint. Pure."""
    manifest = copy.deepcopy(template)
    manifest.pop("status", None)
    source = manifest.get("metadata") or {}
    # Only labels and annotations survive: resourceVersion, uid & co. of a template belong to another object.
    manifest["metadata"] = {
        "name": request.submission_id,
        "namespace": namespace,
        "labels": _labels(source.get("labels") or {}, request.metadata),
        "annotations": _annotations(source.get("annotations") or {}, request.metadata),
    }
    spec = manifest.get("spec") or {}
    manifest["spec"] = {**spec, "suspend": False, "entrypoint": shlex.join(request.entrypoint)}
    return manifest


def _labels(template_labels: dict[str, str], metadata: dict[str, str]) -> dict[str, str]:
    # The template says kustomize manages it; this object is the trigger's, and `kubectl apply --prune` by that
    # label must not delete a running retrain.
    labels = {**template_labels, PART_OF: "rayship", MANAGED_BY: MANAGER}
    if "model" in metadata:
        labels[MODEL_LABEL] = label_value(metadata["model"])
    return labels


def _annotations(template_annotations: dict[str, str], metadata: dict[str, str]) -> dict[str, str]:
    kept = {key: value for key, value in template_annotations.items() if key != LAST_APPLIED}
    return kept | {f"{ANNOTATION_PREFIX}{label_value(key)}": value for key, value in metadata.items()}


def job_view(submission_id: str, rayjob: dict[str, Any], where: str) -> JobView:
    """Where a RayJob stands, from its `status`; a failed deployment (no cluster, deadline, invalid spec) is FAILED."""
    try:
        status = RayJobStatus.model_validate(rayjob.get("status") or {})
    except ValidationError as exc:
        reason = f"RayJob '{submission_id}' has an unreadable status ({first_problem(exc)})"
        raise JobRunnerUnavailableError(where, reason) from exc
    message = status.message or status.reason or None
    if status.job_deployment_status in FAILED_DEPLOYMENTS:
        return JobView(submission_id=submission_id, state="FAILED", message=message)
    state = JOB_STATES.get(status.job_status or "")
    if state is None:
        raise JobRunnerUnavailableError(
            where, f"RayJob '{submission_id}' reports jobStatus '{status.job_status}', which is no Ray job state"
        )
    return JobView(submission_id=submission_id, state=state, message=message)


def load_template(path: str | Path) -> dict[str, Any]:
    """The RayJob template in a YAML file (the ConfigMap's `rayjob.yaml`, mounted into the trigger's pod)."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise RetrainTemplateError(str(path), f"it cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise RetrainTemplateError(str(path), f"it is not YAML ({exc})") from exc
    problem = _template_problem(document)
    if problem:
        raise RetrainTemplateError(str(path), problem)
    return document


def _template_problem(document: Any) -> str | None:
    if not isinstance(document, dict) or (document.get("apiVersion"), document.get("kind")) != ("ray.io/v1", "RayJob"):
        return "it is not a ray.io/v1 RayJob"
    if not isinstance(document.get("spec"), dict):
        return "it has no spec"
    return None


class _BearerToken(httpx.Auth):
    """`Authorization: Bearer`, read for every request: the kubelet rotates a projected service-account token in
    place, so a token read once at start would expire under a long-running trigger."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token if callable(token) else (lambda: token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        yield request


class KubeRayJobRunner:
    """`JobRunner` on KubeRay: `submit` creates a RayJob named by the submission id, `view` reads its status."""

    def __init__(
        self,
        template: dict[str, Any],
        namespace: str,
        api_url: str,
        token: str | Callable[[], str],
        ca_path: str | Path | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        """`token` is the bearer token or a function reading it; `ca_path` the API's CA bundle (None: the system's
        trust store); `transport` replaces the network (tests)."""
        self.template, self.namespace = template, namespace
        self.api_url = api_url.rstrip("/")
        self.where = f"RayJob API in namespace {namespace} ({self.api_url})"
        self._rayjobs = f"{self.api_url}/apis/ray.io/v1/namespaces/{quote(namespace, safe='')}/rayjobs"
        verify = self._ssl_context(ca_path) if ca_path is not None and transport is None else True
        self._client = httpx.Client(auth=_BearerToken(token), verify=verify, timeout=timeout, transport=transport)

    @classmethod
    def in_cluster(
        cls, template_path: str | Path, namespace: str | None = None, *, service_account_dir: Path = SERVICE_ACCOUNT_DIR
    ) -> KubeRayJobRunner:
        """The runner of a pod: its service account's token, CA and namespace (unless given), the API from
        KUBERNETES_SERVICE_HOST/PORT, and the template file the Deployment mounts."""
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if not host or not port:
            raise JobRunnerUnavailableError(
                KUBERNETES_API, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)"
            )
        token_file = service_account_dir / "token"
        _read(token_file)  # fail at start, not on the first alert
        host = f"[{host}]" if ":" in host else host  # an IPv6 service address
        return cls(
            load_template(template_path),
            namespace or _read(service_account_dir / "namespace"),
            f"https://{host}:{port}",
            lambda: token_file.read_text().strip(),
            service_account_dir / "ca.crt",
        )

    def submit(self, request: JobRequest) -> bool:
        """Create the RayJob; False when one of that name exists (KubeRay answers 409 AlreadyExists)."""
        self._check_name(request.submission_id)
        response = self._send("POST", self._rayjobs, json=rayjob_manifest(self.template, request, self.namespace))
        if response.status_code in CREATED:
            return True
        if response.status_code == 409 and _api_status(response).get("reason") == "AlreadyExists":
            return False
        raise self._refused("POST", self._rayjobs, response)

    def view(self, submission_id: str) -> JobView:
        """The RayJob's state; `RetrainJobNotFoundError` when there is no RayJob of that name."""
        url = f"{self._rayjobs}/{quote(submission_id, safe='')}"
        response = self._send("GET", url)
        if response.status_code == 404 and _names_the_object(_api_status(response), submission_id):
            raise RetrainJobNotFoundError(submission_id, self.where)
        if response.status_code != 200:
            raise self._refused("GET", url, response)
        try:
            rayjob = response.json()
        except ValueError as exc:
            raise JobRunnerUnavailableError(self.where, f"GET {url} returned no JSON") from exc
        return job_view(submission_id, rayjob, self.where)

    def close(self) -> None:
        self._client.close()

    def _check_name(self, submission_id: str) -> None:
        if len(submission_id) > MAX_RAYJOB_NAME:
            reason = f"KubeRay takes RayJob names of at most {MAX_RAYJOB_NAME} characters (it has {len(submission_id)})"
            raise RetrainJobInvalidError(submission_id, self.where, reason)
        if not DNS_1035_LABEL.fullmatch(submission_id):
            reason = "KubeRay takes only DNS-1035 labels as RayJob names (a lowercase letter first)"
            raise RetrainJobInvalidError(submission_id, self.where, reason)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except (httpx.HTTPError, OSError) as exc:  # OSError: the token file could not be read
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise JobRunnerUnavailableError(self.where, f"{method} {url} failed ({reason})") from exc

    def _refused(self, method: str, url: str, response: httpx.Response) -> JobRunnerUnavailableError:
        message = _api_status(response).get("message") or response.text.strip()[:300] or response.reason_phrase
        return JobRunnerUnavailableError(self.where, f"{method} {url} returned HTTP {response.status_code}: {message}")

    def _ssl_context(self, ca_path: str | Path) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=str(ca_path))
        except (OSError, ssl.SSLError) as exc:
            raise JobRunnerUnavailableError(self.where, f"cannot load the CA bundle {ca_path} ({exc})") from exc


def _api_status(response: httpx.Response) -> dict[str, Any]:
    """The API's `Status` object of an error response ({} when the body is none, e.g. a proxy's HTML page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) and body.get("kind") == "Status" else {}


def _names_the_object(status: dict[str, Any], name: str) -> bool:
    # A 404 also answers a cluster without the RayJob CRD ("the server could not find the requested resource"):
    # only a NotFound naming the RayJob means there is no such job.
    return status.get("reason") == "NotFound" and (status.get("details") or {}).get("name") == name


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise JobRunnerUnavailableError(KUBERNETES_API, f"cannot read {path} ({exc.strerror or exc})") from exc
