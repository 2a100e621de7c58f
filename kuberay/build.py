"""Build the overlays with `kubectl kustomize` from a staged copy of `kuberay/`, so a check never writes the tree.

The staged copy holds the hand-written base and overlays plus the freshly generated files; what `kubectl kustomize`
prints for each overlay is the rendered manifest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kuberay.errors import KustomizeError

KUBECTL_ENV = "KUBECTL"
KUSTOMIZE_TIMEOUT_S = 120


def kubectl_path() -> str | None:
    """The kubectl to use: `$KUBECTL` when set, else the one on PATH (None when there is none)."""
    return os.environ.get(KUBECTL_ENV) or shutil.which("kubectl")


def overlay_names(kuberay_dir: Path) -> list[str]:
    """Every overlay (a folder of `kuberay/overlays` with a kustomization.yaml), sorted."""
    overlays = kuberay_dir / "overlays"
    return sorted(p.parent.name for p in overlays.glob("*/kustomization.yaml"))


def build_overlays(repo_root: Path, generated: dict[str, str]) -> dict[str, str]:
    """`kubectl kustomize` output of every overlay, built with `generated` (repo-relative path -> text) in place."""
    kuberay_dir = repo_root / "kuberay"
    with tempfile.TemporaryDirectory(prefix="rayship-kuberay-") as tmp:
        staged = Path(tmp) / "kuberay"
        for part in ("base", "overlays"):
            shutil.copytree(kuberay_dir / part, staged / part, ignore=shutil.ignore_patterns("generated"))
        for rel_path, text in generated.items():
            target = Path(tmp) / rel_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        return {name: kustomize(staged / "overlays" / name, name) for name in overlay_names(kuberay_dir)}


def kustomize(overlay_dir: Path, name: str) -> str:
    """Run `kubectl kustomize` on one overlay folder and return the YAML it prints."""
    kubectl = kubectl_path()
    if kubectl is None:
        raise KustomizeError(name, f"kubectl not found (install it or set ${KUBECTL_ENV})")
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(overlay_dir)],
            capture_output=True,
            text=True,
            timeout=KUSTOMIZE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KustomizeError(name, f"kubectl kustomize did not run ({exc})") from exc
    if done.returncode != 0:
        raise KustomizeError(name, done.stderr.strip() or f"kubectl kustomize exited {done.returncode}")
    return done.stdout
