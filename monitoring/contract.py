"""The base of monitoring's pydantic contracts: unknown fields are errors and values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def first_problem(exc: ValidationError) -> str:
    """The first validation error as 'field.path: message', as monitoring's error messages name it."""
    first = exc.errors()[0]
    return f"{'.'.join(str(part) for part in first['loc']) or '(root)'}: {first['msg']}"
