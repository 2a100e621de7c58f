"""The one place where errors become HTTP responses: `{"error": "..."}` with the error's status, never a traceback."""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse

from rayship.errors import RayshipError

logger = logging.getLogger(__name__)

MODEL_VERSION_HEADER = "x-model-version"


def error_response(exc: Exception, version: str | None = None) -> JSONResponse:
    if isinstance(exc, RayshipError):
        status, message = exc.status_code, exc.message
    else:
        logger.exception("unexpected error in the gateway")
        status, message = 500, f"Internal error: {type(exc).__name__}"
    return JSONResponse({"error": message}, status_code=status, headers={MODEL_VERSION_HEADER: version or ""})
