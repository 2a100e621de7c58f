"""Render `kuberay/` from its sources, write it, or report which files are stale.

Rendered files: the generated Components in `kuberay/base/generated/` and `kuberay/overlays/<overlay>/generated/`
(the retraining RayJob template, `kuberay/retrain_template.py`), one manifest per overlay in
`kuberay/rendered/<overlay>.yaml`, and the Grafana dashboard for a local Grafana in `monitoring/grafana/`
(the same JSON as the ConfigMap's). The Dockerfile is not rendered, but its FROM line must name the pinned Ray image,
so a check reports it too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kuberay.generate import HEADER, generated_files
from kuberay.pins import Pins, installed_pins
from kuberay.retrain_template import build_with_templates
from kuberay.serve_config_v2 import cluster_serve_config, load_serve_config, serve_config_yaml
from monitoring.alert_rules import load_specs, prometheus_rule
from monitoring.dashboards import UID, dashboard_json

SERVE_CONFIG = "configs/serve.yaml"
MONITORING_SPECS = "configs/monitoring"
RENDERED_DIR = "kuberay/rendered"
DOCKERFILE = "Dockerfile"
LOCAL_DASHBOARD = f"monitoring/grafana/{UID}.json"


def expected_files(repo_root: Path, pins: Pins | None = None) -> dict[str, str]:
    """Every rendered file's expected text, by path relative to the repository root."""
    pins = pins or installed_pins()
    local = load_serve_config(repo_root / SERVE_CONFIG)
    dashboard = dashboard_json()
    rules = prometheus_rule(load_specs(repo_root / MONITORING_SPECS))
    generated = generated_files(serve_config_yaml(cluster_serve_config(local)), pins, dashboard, rules)
    # Each overlay's generated Component holds its own rendered sweep RayJob as the retraining template.
    templates, built = build_with_templates(repo_root, generated)
    rendered = {
        f"{RENDERED_DIR}/{name}.yaml": HEADER.format(source=f"kubectl kustomize kuberay/overlays/{name}") + text
        for name, text in built.items()
    }
    return generated | templates | rendered | {LOCAL_DASHBOARD: dashboard}


def stale_files(repo_root: Path, expected: dict[str, str]) -> list[str]:
    """Paths whose content on disk differs from `expected` (missing files count), plus unexpected rendered files."""
    stale = [path for path, text in expected.items() if _read(repo_root / path) != text]
    extra = [
        f"{RENDERED_DIR}/{p.name}"
        for p in sorted((repo_root / RENDERED_DIR).glob("*.yaml"))
        if f"{RENDERED_DIR}/{p.name}" not in expected
    ]
    return sorted(stale + extra)


def dockerfile_problem(repo_root: Path, pins: Pins) -> str | None:
    """Why the Dockerfile does not build on the pinned Ray image, or None when it does."""
    text = _read(repo_root / DOCKERFILE)
    if text is None:
        return f"{DOCKERFILE} is missing"
    froms = [words[1] for words in map(str.split, text.splitlines()) if len(words) > 1 and words[0].upper() == "FROM"]
    if pins.base_image not in froms:
        return f"{DOCKERFILE} must build FROM {pins.base_image} (found {', '.join(froms) or 'no FROM line'})"
    return None


def write_files(repo_root: Path, expected: dict[str, str]) -> list[str]:
    """Write every stale file atomically (temp file + rename), delete unexpected rendered files; return paths."""
    changed = stale_files(repo_root, expected)
    for rel_path in changed:
        target = repo_root / rel_path
        if rel_path in expected:
            _write_atomic(target, expected[rel_path])
        else:
            target.unlink()
    return changed


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
