"""Fixtures for the KubeRay manifest tests: the repository, the renderer's output (built once) and its documents."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kuberay.build import kubectl_path
from kuberay.render import expected_files

REPO_ROOT = Path(__file__).resolve().parents[3]
CRDS_ENV = "RAYSHIP_KUBERAY_CRDS"
VALIDATOR_ENV = "RAYSHIP_KUBERAY_VALIDATOR"


class _LibyamlSafe:
    """`yaml.safe_load`/`safe_load_all` on libyaml's CSafeLoader."""

    @staticmethod
    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=yaml.CSafeLoader)

    @staticmethod
    def safe_load_all(stream: Any) -> Any:
        return yaml.load_all(stream, Loader=yaml.CSafeLoader)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = kubectl_path()
    if path is None:
        pytest.skip("kubectl not found on PATH (nor $KUBECTL): cannot build the Kustomize overlays")
    return path


@pytest.fixture(scope="session")
def rendered(kubectl: str) -> dict[str, str]:
    """What `python -m kuberay` renders from the current sources (repo-relative path -> text)."""
    return expected_files(REPO_ROOT)


@pytest.fixture(scope="session")
def overlay_docs(rendered: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every document of each rendered overlay, by overlay name."""
    return {
        Path(path).stem: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in rendered.items()
        if path.startswith("kuberay/rendered/")
    }


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    crds = Path(os.environ.get(CRDS_ENV) or REPO_ROOT.parent / "shared" / "kuberay-crds").resolve()
    if not (crds / "ray.io_rayservices.yaml").is_file():
        pytest.skip(f"KubeRay v1.7 CRDs not found in {crds} (set ${CRDS_ENV} to the folder of the CRD YAMLs)")
    return crds


@pytest.fixture(scope="session")
def validate_kuberay(crds_dir: Path) -> Any:
    """The shared strict validator (`validate_kuberay.py`, beside the CRD folder), loaded as a module."""
    tool = Path(os.environ.get(VALIDATOR_ENV) or crds_dir.parent / "tools" / "validate_kuberay.py")
    if not tool.is_file():
        pytest.skip(f"validate_kuberay.py not found at {tool} (set ${VALIDATOR_ENV})")
    spec = importlib.util.spec_from_file_location("validate_kuberay", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The tool re-parses a 20k-line CRD for every document in pure Python: memoise the parse and use libyaml's
    # loader when present (same safe constructor, same result) so this tier stays fast on a busy machine.
    module.load_schema = functools.lru_cache(maxsize=None)(module.load_schema)
    if yaml.__with_libyaml__:
        module.yaml = _LibyamlSafe
    return module
