"""The one place where errors become gRPC statuses: the code that matches the error's HTTP status (gRPC's own
HTTP mapping, read backwards) and the error's message as the details, never a traceback."""

from __future__ import annotations

import logging

import grpc

from rayship.errors import RayshipError

logger = logging.getLogger(__name__)

CODE_OF_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, RayshipError):
        fallback = grpc.StatusCode.INVALID_ARGUMENT if exc.status_code < 500 else grpc.StatusCode.INTERNAL
        return CODE_OF_STATUS.get(exc.status_code, fallback), exc.message
    logger.exception("unexpected error in the gateway's gRPC service")
    return grpc.StatusCode.INTERNAL, f"Internal error: {type(exc).__name__}"
