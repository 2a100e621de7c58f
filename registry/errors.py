"""rayship's one error hierarchy.

Every error carries the HTTP status it maps to; transports (the gateway's HTTP routes, the CLIs) turn any
`RayshipError` into `{"error": str(exc)}` with `exc.status_code` in exactly one place each. Subclasses build their
message from domain arguments so tests can assert the exact public text.

It lives in `registry/` because that is the one package every other rayship package may import (see DESIGN.md).
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
