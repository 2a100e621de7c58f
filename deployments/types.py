"""The values that travel between the gateway and a version app, independent of any wire protocol.

They are plain dataclasses (cheap to pickle through a Serve handle). Expected failures (bad input for this
version's schema) come back as a `VersionError` value rather than an exception, so the status and message cross the
process boundary intact; only crashes travel as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Features:
    """A batch of rows: a 2-D array (rows x features) and the column names when the input named them."""

    values: np.ndarray
    columns: tuple[str, ...] | None = None

    @property
    def num_rows(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class Prediction:
    """One request's answer from a version app, already JSON-ready (lists, not arrays)."""

    version: str
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None
    batch_size: int = 1


@dataclass(frozen=True)
class VersionError:
    """An expected failure reported by a version app (e.g. wrong feature count), with its HTTP status."""

    status_code: int
    message: str


@dataclass(frozen=True)
class TensorSpec:
    """OIP v2 metadata of one input or output tensor; -1 in `shape` means variable."""

    name: str
    datatype: str
    shape: list[int]


@dataclass(frozen=True)
class ModelMetadata:
    """What a version app knows about its model: the MLflow signature as OIP v2 metadata."""

    name: str
    version: str
    platform: str
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    columns: list[str] | None = None


@dataclass(frozen=True)
class Served:
    """The gateway's answer to one predict request: the version that served it (as the app reports its pinned
    registry version; docs/design.md, decision 4) and what it said."""

    model: str
    version: str
    prediction: Prediction
