"""rayship's one error root.

Every error rayship raises on purpose is a `RayshipError` carrying the HTTP status it maps to; each transport turns
one into `{"error": str(exc)}` with `exc.status_code` in exactly one place (the gateway's HTTP exception handler, each
CLI's `main`). Subclasses build their message from domain arguments, so tests assert the exact public text.

This module holds the root, the five families by status, and the not-found family that more than one package
raises (a model or a version that is not there). Each package declares its own errors in its `errors.py`.
"""

from __future__ import annotations


class RayshipError(Exception):
    """Base of every error rayship raises on purpose."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInputError(RayshipError):
    """The caller sent something rayship cannot use (HTTP 400)."""

    status_code = 400


class NotFoundError(RayshipError):
    """A named thing does not exist (HTTP 404)."""

    status_code = 404


class ConflictError(RayshipError):
    """The request conflicts with the current state (HTTP 409)."""

    status_code = 409


class UnavailableError(RayshipError):
    """A dependency is down or not ready yet (HTTP 503)."""

    status_code = 503


# --- the not-found family: models and versions, as the registry and the gateway both report them ---


class ModelNotFoundError(NotFoundError):
    """No registered model has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Model '{name}' is not registered")
        self.name = name


class ModelNotServedError(NotFoundError):
    """The gateway's policy has no model of this name (it may still be registered)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Model '{name}' is not served by this gateway")
        self.name = name


class VersionNotFoundError(NotFoundError):
    """The model exists (in the registry, or in the gateway's policy) but has no such version."""

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"Model '{name}' has no version '{version}'")
        self.name = name
        self.version = version


# --- leases: one driver per model, for rollouts and for the retraining trigger (rayship/lease.py) ---


class LeaseHeldError(ConflictError):
    """Another driver holds the lease for this model."""

    def __init__(self, model: str, holder: str, expires_in_s: float, purpose: str = "rollout") -> None:
        super().__init__(
            f"{purpose.capitalize()} of model '{model}' is driven by '{holder}' (lease expires in "
            f"{expires_in_s:.0f} s); stop that driver or wait for its lease to expire"
        )
        self.model = model
        self.holder = holder


class LeaseLostError(ConflictError):
    """This driver's lease was taken over (it expired) or released by someone else."""

    def __init__(self, model: str, owner: str, holder: str | None, purpose: str = "rollout") -> None:
        now_held_by = f"now held by '{holder}'" if holder else "no longer held"
        super().__init__(f"Driver '{owner}' lost the {purpose} lease of model '{model}' ({now_held_by})")
        self.model = model
        self.owner = owner
