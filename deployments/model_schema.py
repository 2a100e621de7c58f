"""What a version accepts, from its MLflow signature, and checking a request's `Features` against it (pure).

Named columns are matched by name (and reordered to the signature's order); unnamed rows by count. A signature
of numeric columns (or a numeric tensor) rejects strings. A model without a signature accepts any width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deployments.errors import FeatureCountError, FeatureTypeError, MissingColumnsError
from deployments.types import Features, TensorSpec

NUMERIC_COLUMN_TYPES = {"double", "float", "long", "integer", "boolean"}
OIP_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "float64": "FP64",
    "float32": "FP32",
    "int64": "INT64",
    "int32": "INT32",
    "bool": "BOOL",
}


@dataclass(frozen=True)
class InputSchema:
    """The inputs of one version: column names and MLflow types (or one tensor of `num_features`)."""

    columns: tuple[str, ...] | None
    types: tuple[str, ...]
    num_features: int | None

    @property
    def numeric(self) -> bool:
        return all(kind in NUMERIC_COLUMN_TYPES or kind.startswith(("float", "int", "uint")) for kind in self.types)


def schema_from_signature(inputs: list[dict] | None, fallback_num_features: int | None = None) -> InputSchema:
    """From `signature.inputs.to_dict()`: a list of `{"name", "type"}` or one `{"type": "tensor", ...}`."""
    if not inputs:
        return InputSchema(None, (), fallback_num_features)
    if len(inputs) == 1 and inputs[0].get("type") == "tensor":
        spec = inputs[0]["tensor-spec"]
        shape = list(spec.get("shape", []))
        width = shape[1] if len(shape) == 2 and shape[1] > 0 else fallback_num_features
        return InputSchema(None, (str(spec.get("dtype")),), width)
    names = tuple(str(column.get("name")) for column in inputs)
    return InputSchema(names, tuple(str(column.get("type")) for column in inputs), len(names))


def conform(schema: InputSchema, features: Features, model: str, version: str) -> Features:
    """The features in the order the model expects, or a 400 naming what is wrong."""
    values, columns = features.values, features.columns
    if schema.columns is not None and columns is not None:
        missing = [name for name in schema.columns if name not in columns]
        if missing:
            raise MissingColumnsError(model, version, missing)
        if columns != schema.columns:
            index = [columns.index(name) for name in schema.columns]
            values = values[:, index]
        columns = schema.columns
    elif schema.num_features is not None and values.shape[1] != schema.num_features:
        raise FeatureCountError(model, version, schema.num_features, int(values.shape[1]))
    if schema.numeric and values.dtype == object:
        raise FeatureTypeError(model, version, "numeric", "strings")
    if schema.columns is not None and columns is None:
        columns = schema.columns  # positional rows of the right width: give them the signature's names
    return Features(np.asarray(values), columns)


def input_specs(schema: InputSchema) -> list[TensorSpec]:
    """OIP metadata inputs: one `[-1]` input per named column, else one `[-1, F]` tensor."""
    if schema.columns is not None:
        return [
            TensorSpec(name, OIP_DATATYPES.get(kind, "BYTES"), [-1])
            for name, kind in zip(schema.columns, schema.types, strict=True)
        ]
    datatype = OIP_DATATYPES.get(schema.types[0], "FP64") if schema.types else "FP64"
    return [TensorSpec("input-0", datatype, [-1, schema.num_features or -1])]
