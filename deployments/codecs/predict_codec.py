"""What a wire protocol declares about its predict endpoint, so the gateway builds its routes from the codecs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from deployments.types import Features, Prediction

Decoded = TypeVar("Decoded")


@dataclass(frozen=True)
class RawBody:
    """An answer that is not plain JSON (OIP's binary tensor extension): its bytes, media type and extra headers."""

    content: bytes
    media_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictCodec(Generic[Decoded]):
    """One protocol's predict endpoint: where it is served, what it accepts, and how it decodes and encodes.

    `paths` name `{model}` and, to pin a version, `{version}` (the version is never read from a query string).
    `decode` gets the body, its media type (already checked to be one of `content_types`) and the request's headers
    (lower-case names); what it returns is handed back to `encode` with the prediction, so a protocol can echo what
    its request asked for. `encode` returns a JSON-ready dict or a `RawBody`.
    """

    paths: tuple[str, ...]
    content_types: tuple[str, ...]
    decode: Callable[[bytes, str, Mapping[str, str]], Decoded]
    features: Callable[[Decoded], Features]
    encode: Callable[[str, Prediction, Decoded], dict[str, Any] | RawBody]
