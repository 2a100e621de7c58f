"""Errors the serving layer raises on purpose, each carrying its HTTP status and a message built from domain args.

The gateway maps any `RayshipError` to `{"error": str(exc)}` with `exc.status_code` in one place
(`deployments/gateway/rest/errors.py`).
"""

from __future__ import annotations

from rayship.errors import InvalidInputError, NotFoundError, RayshipError, UnavailableError


class RouteNotFoundError(NotFoundError):
    def __init__(self, path: str) -> None:
        super().__init__(f"No route for path '{path}'")


class MethodNotAllowedError(RayshipError):
    status_code = 405

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Method {method} is not allowed for '{path}'")


class PayloadTooLargeError(RayshipError):
    status_code = 413

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"Request body exceeds the limit of {limit_bytes} bytes")


class UnsupportedMediaTypeError(RayshipError):
    status_code = 415

    def __init__(self, content_type: str, accepted: tuple[str, ...]) -> None:
        shown = content_type or "none"
        super().__init__(f"Unsupported content type '{shown}'; send one of: {', '.join(accepted)}")


class MissingApiKeyError(RayshipError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")


class WrongApiKeyError(RayshipError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("The API key is not valid")


class PinningNotAllowedError(RayshipError):
    status_code = 403

    def __init__(self, model: str) -> None:
        super().__init__(f"Model '{model}' does not allow pinning a version")


class AdminTokenMissingError(RayshipError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("Missing admin token: send 'Authorization: Bearer <Ray cluster token>'")


class WrongAdminTokenError(RayshipError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("The admin token is not valid")


class AdminTokenNotConfiguredError(UnavailableError):
    def __init__(self) -> None:
        super().__init__("No Ray cluster token is configured on the gateway (RAY_AUTH_TOKEN_PATH); stats are disabled")


class NoReadyVersionError(UnavailableError):
    def __init__(self, model: str) -> None:
        super().__init__(f"Model '{model}' has no ready version")


class VersionNotReadyError(UnavailableError):
    def __init__(self, model: str, version: str) -> None:
        super().__init__(f"Model '{model}' version '{version}' is not ready")


class VersionFailedError(RayshipError):
    """A version failed to answer (a crash, a dead replica): the status a client sees is 503 or 500."""

    def __init__(self, model: str, version: str, status_code: int, reason: str) -> None:
        super().__init__(f"Model '{model}' version '{version}' failed: {reason}")
        self.status_code = status_code


class NotJsonError(InvalidInputError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"The request body is not valid JSON: {reason}")


class BadPayloadError(InvalidInputError):
    """The JSON parsed but does not have the shape a protocol requires; the message says what is wrong."""


class FeatureCountError(InvalidInputError):
    def __init__(self, model: str, version: str, expected: int, got: int) -> None:
        super().__init__(f"Model '{model}' version '{version}' expects {expected} features, got {got}")


class MissingColumnsError(InvalidInputError):
    def __init__(self, model: str, version: str, missing: list[str]) -> None:
        names = ", ".join(f"'{name}'" for name in missing)
        super().__init__(f"Model '{model}' version '{version}' needs columns missing from the input: {names}")


class FeatureTypeError(InvalidInputError):
    def __init__(self, model: str, version: str, expected: str, got: str) -> None:
        super().__init__(f"Model '{model}' version '{version}' expects {expected} features, got {got}")


class ModelLoadError(RayshipError):
    """A version app could not load its model; its deploy fails and other versions keep serving."""

    def __init__(self, model_uri: str, reason: str) -> None:
        super().__init__(f"Cannot serve '{model_uri}': {reason}")


class FrameworkNotInstalledError(ModelLoadError):
    """A version of a framework whose runtime is an optional extra (`rayship[torch]`) this environment lacks.

    Its status stays ModelLoadError's 500, not the 503 of `UnavailableError`: nothing is down or starting, so
    waiting or retrying cannot help; the replica's own environment is missing a package, a server-side fault that
    only installing the extra (or an image built with it) fixes. As with any load failure, that version's deploy
    fails and the other versions keep serving."""

    def __init__(self, model_uri: str, framework: str, module: str, extra: str) -> None:
        super().__init__(
            model_uri, f"it is a {framework} model and this environment has no {module}; pip install 'rayship[{extra}]'"
        )
        self.framework = framework
        self.extra = extra


class VersionReportedError(RayshipError):
    """An expected failure a version app reported as a value (e.g. a 400 for its schema), re-raised at the gateway."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class VersionUnavailableError(UnavailableError):
    def __init__(self, app: str, reason: str) -> None:
        super().__init__(f"Serve app '{app}' is unavailable: {reason}")
