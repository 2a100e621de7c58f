"""The import rules of docs/design.md, checked against every import in the tree.

Each runtime package may import only the rayship packages its row names; none imports `scripts`, `bench` or
`tests`; and the pure rollout core imports nothing but the standard library, the pure third-party libraries named
here (pydantic, and numpy and scipy, which compute and do no I/O), `rayship`, itself and the pure shared modules
named here (the latency histogram, `deployments.histogram`, and the distribution distances, `monitoring.stats`,
which the quality checks use), which obey the same rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALLOWED = {
    "rayship": set(),
    "cluster": {"rayship", "monitoring", "deployments"},
    "registry": {"rayship"},
    "monitoring": {"rayship", "registry"},
    "training": {"rayship", "registry", "monitoring"},
    "deployments": {"rayship", "registry", "monitoring"},
    "rollout": {"rayship", "registry", "deployments", "monitoring"},
    "kuberay": {"rayship", "deployments", "monitoring"},
}
PROJECT = set(ALLOWED) | {"scripts", "bench", "tests"}
PURE_CORE = REPO / "rollout" / "core"
# Modules outside the core that it may use because they are pure too (the one latency histogram; the distances
# between distributions that prediction drift is measured with).
PURE_SHARED = {"deployments.histogram", "monitoring.stats", "monitoring.contract"}
# Libraries that compute without I/O: schemas, and the arrays and special functions of monitoring.stats.
PURE_THIRD_PARTY = {"pydantic", "numpy", "scipy"}


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def package_files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_its_row_allows(package: str) -> None:
    wrong = {
        f"{path.relative_to(REPO)} imports {module}"
        for path in package_files(package)
        for module in imported_modules(path)
        if (top := module.split(".")[0]) in PROJECT and top != package and top not in ALLOWED[package]
    }
    assert sorted(wrong) == []


def pure_files() -> list[Path]:
    shared = [REPO / f"{module.replace('.', '/')}.py" for module in sorted(PURE_SHARED)]
    return sorted(PURE_CORE.rglob("*.py")) + shared


def is_pure_import(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in PURE_THIRD_PARTY or top == "rayship":
        return True
    return module == "rollout.core" or module.startswith("rollout.core.") or module in PURE_SHARED


def test_the_rollout_core_is_pure() -> None:
    wrong = {
        f"{path.relative_to(REPO)} imports {module}"
        for path in pure_files()
        for module in imported_modules(path)
        if not is_pure_import(module)
    }
    assert sorted(wrong) == []


def constructs_mlflow_client(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "MlflowClient"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def test_only_registry_opens_an_mlflow_client_on_the_registry() -> None:
    # training/tracking.py logs a sweep's runs: MLflow tracking, not the registry.
    runs_only = {REPO / "training" / "tracking.py"}
    outside = [path for package in sorted(ALLOWED) if package != "registry" for path in package_files(package)]
    assert [str(p.relative_to(REPO)) for p in outside if p not in runs_only and constructs_mlflow_client(p)] == []
