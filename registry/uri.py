"""Parsing model URIs into a reference to one registered model's version or alias (pure, no MLflow calls)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from registry.errors import InvalidAliasError, InvalidModelUriError

MODELS_SCHEME = "models:/"
# MLflow registered-model names may hold most characters, but '/' and '@' would make URIs ambiguous.
_NAME = r"[^/@\s]+"
_VERSION_URI = re.compile(rf"^(?P<name>{_NAME})/(?P<version>[0-9]+)$")
_ALIAS_URI = re.compile(rf"^(?P<name>{_NAME})@(?P<alias>[^/@\s]+)$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# MLflow reserves these: 'latest' and 'v<digits>' would be read as versions.
_RESERVED_ALIAS = re.compile(r"^(latest|v[0-9]+)$", re.IGNORECASE)


class ModelRef(BaseModel):
    """A registered model plus exactly one of a version number or an alias, as written by the user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name, e.g. 'iris'.")
    version: str | None = Field(None, description="Version number as a string, e.g. '3'; None for an alias.")
    alias: str | None = Field(None, description="Alias such as 'champion'; None for a version.")


def validate_alias(alias: str) -> str:
    """Return `alias` unchanged, or raise `InvalidAliasError` for one MLflow would reject or misread."""
    if not _ALIAS.match(alias) or _RESERVED_ALIAS.match(alias) or len(alias) > 255:
        raise InvalidAliasError(alias)
    return alias


def parse_model_uri(model_uri: str) -> ModelRef:
    """Parse `models:/name/N`, `models:/name@alias`, `name/N` or `name@alias`."""
    body = model_uri.strip()
    body = body.removeprefix(MODELS_SCHEME)
    if match := _VERSION_URI.match(body):
        return ModelRef(name=match["name"], version=str(int(match["version"])))
    if match := _ALIAS_URI.match(body):
        try:
            alias = validate_alias(match["alias"])
        except InvalidAliasError:
            raise InvalidModelUriError(model_uri) from None
        return ModelRef(name=match["name"], alias=alias)
    raise InvalidModelUriError(model_uri)
