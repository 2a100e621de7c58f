"""Open Inference Protocol v2 (KServe, Triton, MLServer): `infer` requests and responses, model metadata.

A request carries one 2-D input (`shape [N, F]`), or one input per column (each `shape [N]` or `[N, 1]`, the input
names being the column names). `data` may be flat (row-major) or nested; its element count must equal the product
of `shape`. Responses carry `predict` (shape `[N]`) and, for models with probabilities, `predict_proba`
(shape `[N, C]`); a request may ask for a subset with `outputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from deployments.codecs.arrays import JSON_CONTENT_TYPE, parse_json_object, to_array
from deployments.codecs.predict_codec import PredictCodec
from deployments.errors import BadPayloadError
from deployments.types import Features, ModelMetadata, Prediction

SERVER_NAME = "rayship"
SERVER_VERSION = "0.1.0"
EXTENSIONS: list[str] = []
PREDICT_OUTPUT = "predict"
PROBA_OUTPUT = "predict_proba"

# datatype -> numpy kinds the data may have after `np.asarray` ("f": float, "i"/"u": int, "b": bool, "O": str).
DATATYPE_KINDS = {
    "BOOL": "b",
    **{f"UINT{bits}": "iu" for bits in (8, 16, 32, 64)},
    **{f"INT{bits}": "iu" for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": "iuf" for bits in (16, 32, 64)},
    "BYTES": "O",
}


@dataclass(frozen=True)
class InferRequest:
    """A decoded OIP v2 infer request."""

    features: Features
    request_id: str | None
    outputs: tuple[str, ...] | None


def decode_infer(body: bytes) -> InferRequest:
    payload = parse_json_object(body)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadPayloadError("'inputs' must be a non-empty list of tensors")
    tensors = [_decode_tensor(tensor, index) for index, tensor in enumerate(inputs)]
    # One 2-D tensor means positional features; one tensor per column means named features.
    single_matrix = len(tensors) == 1 and tensors[0][1].ndim == 2
    features = Features(tensors[0][1]) if single_matrix else _stack_columns(tensors)
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadPayloadError("'id' must be a string")
    return InferRequest(features, request_id, _requested_outputs(payload.get("outputs")))


def _decode_tensor(tensor: Any, index: int) -> tuple[str, np.ndarray]:
    if not isinstance(tensor, dict):
        raise BadPayloadError(f"input {index} must be an object with name, shape, datatype and data")
    missing = [key for key in ("name", "shape", "datatype", "data") if key not in tensor]
    if missing:
        raise BadPayloadError(f"input {index} is missing {', '.join(repr(key) for key in missing)}")
    name, shape, datatype, data = tensor["name"], tensor["shape"], tensor["datatype"], tensor["data"]
    if not isinstance(name, str) or not name:
        raise BadPayloadError(f"input {index} must have a non-empty string 'name'")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadPayloadError(f"input '{name}' shape must be a list of non-negative integers")
    if datatype not in DATATYPE_KINDS:
        raise BadPayloadError(f"input '{name}' has unknown datatype '{datatype}'")
    if not isinstance(data, list):
        raise BadPayloadError(f"input '{name}' data must be a list")
    array = to_array(data, f"input '{name}' data").reshape(-1) if data else np.asarray([], dtype=float)
    expected = math.prod(shape)
    if array.size != expected:
        raise BadPayloadError(f"input '{name}' has {array.size} elements but shape {shape} needs {expected}")
    if array.size and array.dtype.kind not in DATATYPE_KINDS[datatype]:
        raise BadPayloadError(f"input '{name}' data does not match datatype {datatype}")
    if len(shape) not in (1, 2):
        raise BadPayloadError(f"input '{name}' must be 1-D or 2-D, got shape {shape}")
    try:
        return name, array.reshape(shape)
    except ValueError:  # an empty input with a dimension numpy cannot even represent, e.g. [10**20, 0]
        raise BadPayloadError(f"input '{name}' cannot take shape {shape}") from None


def _stack_columns(tensors: list[tuple[str, np.ndarray]]) -> Features:
    """One input per column: each `[N]` or `[N, 1]`, all with the same N."""
    columns = []
    for name, array in tensors:
        if array.ndim == 2 and array.shape[1] != 1:
            raise BadPayloadError(
                f"input '{name}' has shape {list(array.shape)}; send one 2-D input or one [N] input per column"
            )
        columns.append(array.reshape(-1))
    rows = {len(column) for column in columns}
    if len(rows) != 1:
        raise BadPayloadError(f"inputs disagree on the number of rows: {sorted(rows)}")
    names = tuple(name for name, _ in tensors)
    if len(set(names)) != len(names):
        raise BadPayloadError("input names must be unique")
    kinds = {column.dtype.kind for column in columns}
    dtype = object if "O" in kinds else None
    return Features(np.column_stack(columns).astype(dtype) if dtype else np.column_stack(columns), names)


def _requested_outputs(outputs: Any) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    named = isinstance(outputs, list) and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    if not named:
        raise BadPayloadError("'outputs' must be a list of objects with a 'name'")
    return tuple(output["name"] for output in outputs)


def encode_infer(
    model: str, prediction: Prediction, request_id: str | None, outputs: tuple[str, ...] | None
) -> dict[str, Any]:
    available = {PREDICT_OUTPUT: _predict_tensor(prediction)}
    if prediction.probabilities is not None:
        available[PROBA_OUTPUT] = _proba_tensor(prediction.probabilities)
    wanted = outputs if outputs is not None else tuple(available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise BadPayloadError(
            f"Model '{model}' has no output {', '.join(repr(n) for n in unknown)}; available: {', '.join(available)}"
        )
    response: dict[str, Any] = {
        "model_name": model,
        "model_version": prediction.version,
        "outputs": [available[name] for name in wanted],
    }
    if request_id is not None:
        response["id"] = request_id
    return response


def datatype_of(values: list[Any]) -> str:
    """The OIP datatype of JSON-ready values (bool before int: bool is an int in Python)."""
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _predict_tensor(prediction: Prediction) -> dict[str, Any]:
    values = prediction.predictions
    if values and isinstance(values[0], list):  # multi-output regressors: [N, K]
        flat = [v for row in values for v in row]
        shape = [len(values), len(values[0])]
        return {"name": PREDICT_OUTPUT, "shape": shape, "datatype": datatype_of(flat), "data": flat}
    return {"name": PREDICT_OUTPUT, "shape": [len(values)], "datatype": datatype_of(values), "data": values}


def _proba_tensor(probabilities: list[list[float]]) -> dict[str, Any]:
    width = len(probabilities[0]) if probabilities else 0
    flat = [p for row in probabilities for p in row]
    return {"name": PROBA_OUTPUT, "shape": [len(probabilities), width], "datatype": "FP64", "data": flat}


def encode_metadata(model: str, versions: list[str], metadata: ModelMetadata) -> dict[str, Any]:
    return {
        "name": model,
        "versions": versions,
        "platform": metadata.platform,
        "inputs": [vars(spec) for spec in metadata.inputs],
        "outputs": [vars(spec) for spec in metadata.outputs],
    }


def encode_server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS}


INFER: PredictCodec[InferRequest] = PredictCodec(
    paths=("/v2/models/{model}/versions/{version}/infer", "/v2/models/{model}/infer"),
    content_types=(JSON_CONTENT_TYPE,),
    decode=lambda body, _content_type: decode_infer(body),
    features=attrgetter("features"),
    encode=lambda model, prediction, request: encode_infer(model, prediction, request.request_id, request.outputs),
)
