"""The retraining trigger's RayJob template: each overlay's rendered `rayship-sweep` RayJob, as a ConfigMap.

The trigger (`python -m monitoring watch --runner kuberay`, Deployment `rayship-retrain-watch`) creates one RayJob
per alert window from a template mounted from the ConfigMap `rayship-retrain-template`. That template must be the
RayJob the overlay renders (prod's larger workers, the namespace, the pinned image and Ray), not the base's, and
Kustomize cannot put a transformed resource into a ConfigMap. So the renderer builds every overlay twice: first with
an empty template, to read the overlay's `rayship-sweep`; then with that RayJob written to the overlay's generated
Component (`kuberay/overlays/<env>/generated/`), whose configMapGenerator turns it into the ConfigMap. The template
does not feed back into the RayJob, so the second build's RayJob is the first's (a unit test checks they are equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kuberay.build import build_overlays, overlay_names
from kuberay.errors import KustomizeError
from kuberay.generate import HEADER, SWEEP_RAYJOB_NAME

RETRAIN_TEMPLATE_CONFIGMAP = "rayship-retrain-template"
RETRAIN_TEMPLATE_KEY = "rayjob.yaml"
BASE_LABELS = {"app.kubernetes.io/part-of": "rayship", "app.kubernetes.io/managed-by": "kustomize"}


def overlay_generated_dir(overlay: str) -> str:
    """The folder of an overlay's generated Component, relative to the repository root."""
    return f"kuberay/overlays/{overlay}/generated"


def template_component() -> dict[str, Any]:
    """The overlay Component that generates the template ConfigMap from `rayjob.yaml` beside it."""
    # The name-hash suffix is kept on purpose: Kustomize rewrites the Deployment's volume to the new name, so a
    # changed template rolls the trigger's pod instead of leaving it on the template it read at start.
    generator = {
        "name": RETRAIN_TEMPLATE_CONFIGMAP,
        "files": [RETRAIN_TEMPLATE_KEY],
        # The base's labels do not reach an overlay's Component: the same ones, written out.
        "options": {"labels": {**BASE_LABELS, "app.kubernetes.io/component": "retrain-watch"}},
    }
    return {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component", "configMapGenerator": [generator]}


def template_files(overlay: str, sweep_rayjob: dict[str, Any] | None) -> dict[str, str]:
    """An overlay's generated files: its Component and the template (empty before the first build)."""
    folder = overlay_generated_dir(overlay)
    header = HEADER.format(source=f"RayJob {SWEEP_RAYJOB_NAME} of `kubectl kustomize kuberay/overlays/{overlay}`")
    template = "" if sweep_rayjob is None else header + _yaml(sweep_rayjob)
    return {
        f"{folder}/kustomization.yaml": header + _yaml(template_component()),
        f"{folder}/{RETRAIN_TEMPLATE_KEY}": template,
    }


def sweep_rayjob_of(overlay: str, manifest: str) -> dict[str, Any]:
    """The `rayship-sweep` RayJob of one overlay's built manifest."""
    for doc in yaml.safe_load_all(manifest):
        if doc and doc.get("kind") == "RayJob" and doc.get("metadata", {}).get("name") == SWEEP_RAYJOB_NAME:
            return doc
    raise KustomizeError(overlay, f"it renders no RayJob {SWEEP_RAYJOB_NAME}, the retraining trigger's template")


def build_with_templates(repo_root: Path, generated: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Every overlay built with its template in place: (the overlays' generated files, overlay name -> manifest)."""
    names = overlay_names(repo_root / "kuberay")
    empty = {path: text for name in names for path, text in template_files(name, None).items()}
    first = build_overlays(repo_root, generated | empty)
    templates = {
        path: text for name in names for path, text in template_files(name, sweep_rayjob_of(name, first[name])).items()
    }
    return templates, build_overlays(repo_root, generated | templates)


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
