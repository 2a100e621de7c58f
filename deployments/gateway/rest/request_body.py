"""Reading a request body: its content type checked (415), its size bounded (413), before anything parses it."""

from __future__ import annotations

from starlette.requests import Request

from deployments.codecs.arrays import JSON_CONTENT_TYPE
from deployments.errors import BadPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError


async def read_body(request: Request, accepted: tuple[str, ...], limit: int) -> tuple[bytes, str]:
    """The body and its media type (without parameters; JSON when the client named none).

    Too large is decided from `Content-Length` before reading when the client sent one, else while streaming.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type not in accepted:
        raise UnsupportedMediaTypeError(media_type, accepted)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadPayloadError(f"Invalid Content-Length header '{declared}'")
        if int(declared) > limit:
            raise PayloadTooLargeError(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks), media_type or JSON_CONTENT_TYPE
