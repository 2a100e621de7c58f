"""What a wire protocol declares about its predict endpoint, so the gateway builds its routes from the codecs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from deployments.types import Features, Prediction

Decoded = TypeVar("Decoded")


@dataclass(frozen=True)
class PredictCodec(Generic[Decoded]):
    """One protocol's predict endpoint: where it is served, what it accepts, and how it decodes and encodes.

    `paths` name `{model}` and, to pin a version, `{version}` (the version is never read from a query string).
    `decode` gets the body and its media type, already checked to be one of `content_types`; what it returns is
    handed back to `encode` with the prediction, so a protocol can echo what its request asked for.
    """

    paths: tuple[str, ...]
    content_types: tuple[str, ...]
    decode: Callable[[bytes, str], Decoded]
    features: Callable[[Decoded], Features]
    encode: Callable[[str, Prediction, Decoded], dict[str, Any]]
