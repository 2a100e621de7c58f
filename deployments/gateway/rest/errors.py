"""The one place where errors become HTTP responses: `{"error": "..."}` with the error's status, never a traceback.

Every endpoint leaves through `guarded` (applied by the route table), and the router's own 404/405 through
`routing_error`, the app's one exception handler. Unexpected errors are caught in the endpoint rather than by
Starlette's `Exception` handler, because that one runs in `ServerErrorMiddleware`, outside the request-id stamping,
and re-raises after answering: Serve would log the error a second time and count a crashed request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deployments.errors import MethodNotAllowedError, RouteNotFoundError
from rayship.errors import RayshipError

logger = logging.getLogger(__name__)

MODEL_VERSION_HEADER = "x-model-version"
Endpoint = Callable[[Request], Awaitable[Response]]


def error_response(exc: Exception, version: str | None = None) -> JSONResponse:
    if isinstance(exc, RayshipError):
        status, message = exc.status_code, exc.message
    else:
        logger.exception("unexpected error in the gateway")
        status, message = 500, f"Internal error: {type(exc).__name__}"
    return JSONResponse({"error": message}, status_code=status, headers={MODEL_VERSION_HEADER: _header_value(version)})


def _header_value(version: str | None) -> str:
    # A version from the path may be any text; a header takes printable ASCII only (an empty one names no version).
    return version if version and version.isascii() and version.isprintable() else ""


def guarded(endpoint: Endpoint) -> Endpoint:
    """The endpoint, answering any error it raises through `error_response`, with the version its path names."""

    async def answer_errors(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:  # every error, expected or not, leaves through the one mapping
            return error_response(exc, request.path_params.get("version"))

    return answer_errors


async def routing_error(request: Request, exc: HTTPException) -> Response:
    """The router found no route for the path (404) or none for the method (405)."""
    if exc.status_code == 405:
        return error_response(MethodNotAllowedError(request.method, request.url.path))
    return error_response(RouteNotFoundError(request.url.path))
