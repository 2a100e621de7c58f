"""Errors the KubeRay renderer raises on purpose; subclasses of rayship's one root (`rayship.errors`)."""

from __future__ import annotations

from rayship.errors import InvalidInputError, UnavailableError


class ServeConfigError(InvalidInputError):
    """`configs/serve.yaml` is missing, not YAML, or not a valid Ray Serve config."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Serve config {path}: {problem}")
        self.path = path
        self.problem = problem


class KustomizeError(UnavailableError):
    """`kubectl kustomize` is missing or failed to build an overlay."""

    def __init__(self, overlay: str, problem: str) -> None:
        super().__init__(f"Cannot build overlay '{overlay}': {problem}")
        self.overlay = overlay
        self.problem = problem
