"""OIP v2 tensors as numpy arrays, shared by the HTTP codec (JSON and the binary tensor extension) and the gRPC
service: checking a tensor's name, shape and datatype, its data as JSON values or raw bytes, turning inputs into
`Features`, and a prediction into output tensors.

Raw bytes are row-major and little-endian; BOOL is one byte per element; each BYTES element is a 4-byte
little-endian length followed by that many bytes (decoded as UTF-8 text, like a JSON string).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deployments.codecs.arrays import to_array
from deployments.errors import BadPayloadError
from deployments.types import Features, Prediction

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
# datatype -> the little-endian numpy dtype of its raw bytes (BYTES has none: length-prefixed elements)
RAW_DTYPES = {
    "BOOL": np.dtype("?"),
    **{f"UINT{bits}": np.dtype(f"<u{bits // 8}") for bits in (8, 16, 32, 64)},
    **{f"INT{bits}": np.dtype(f"<i{bits // 8}") for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": np.dtype(f"<f{bits // 8}") for bits in (16, 32, 64)},
}


@dataclass(frozen=True)
class OutputTensor:
    """One output of a prediction: its values flat (row-major) in `array`, `shape` saying how they fold."""

    name: str
    datatype: str
    shape: list[int]
    array: np.ndarray


def tensor_array(
    name: Any, shape: Any, datatype: Any, data: list | None = None, raw: bytes | None = None
) -> np.ndarray:
    """One input tensor as an array of `shape` (1-D or 2-D), from JSON `data` or `raw` bytes (exactly one)."""
    if not isinstance(name, str) or not name:
        raise BadPayloadError("every input must have a non-empty string 'name'")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadPayloadError(f"input '{name}' shape must be a list of non-negative integers")
    if datatype not in DATATYPE_KINDS:
        raise BadPayloadError(f"input '{name}' has unknown datatype '{datatype}'")
    if len(shape) not in (1, 2):
        raise BadPayloadError(f"input '{name}' must be 1-D or 2-D, got shape {shape}")
    if data is not None and raw is not None:
        raise BadPayloadError(f"input '{name}' has both data and raw bytes; send one")
    array = decode_raw(name, datatype, shape, raw) if raw is not None else _json_array(name, datatype, shape, data)
    try:
        return array.reshape(shape)
    except ValueError:  # an empty input with a dimension numpy cannot even represent, e.g. [10**20, 0]
        raise BadPayloadError(f"input '{name}' cannot take shape {shape}") from None


def _json_array(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    if not isinstance(data, list):
        raise BadPayloadError(f"input '{name}' data must be a list")
    array = to_array(data, f"input '{name}' data").reshape(-1) if data else np.asarray([], dtype=float)
    _check_count(name, array.size, shape)
    if array.size and array.dtype.kind not in DATATYPE_KINDS[datatype]:
        raise BadPayloadError(f"input '{name}' data does not match datatype {datatype}")
    return array


def _check_count(name: str, count: int, shape: list[int]) -> None:
    expected = math.prod(shape)
    if count != expected:
        raise BadPayloadError(f"input '{name}' has {count} elements but shape {shape} needs {expected}")


def decode_raw(name: str, datatype: str, shape: list[int], raw: bytes) -> np.ndarray:
    """The flat (row-major) array of `raw`, checked against the element count `shape` needs.

    Sizes are compared before anything is allocated, so a huge `shape` costs nothing; the array is a writable copy in
    native byte order, since a model may write to its input."""
    if datatype not in DATATYPE_KINDS:
        raise BadPayloadError(f"input '{name}' has unknown datatype '{datatype}'")
    if datatype == "BYTES":
        array = np.asarray(_split_bytes(name, raw), dtype=object)
        _check_count(name, array.size, shape)
        return array
    dtype = RAW_DTYPES[datatype]
    needed = math.prod(shape) * dtype.itemsize
    if len(raw) != needed:
        raise BadPayloadError(f"input '{name}' has {len(raw)} bytes but shape {shape} of {datatype} needs {needed}")
    if datatype == "BOOL" and raw.translate(None, b"\x00\x01"):  # numpy would take any non-zero byte as true
        raise BadPayloadError(f"input '{name}' BOOL data must be bytes 0 or 1")
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))


def _split_bytes(name: str, raw: bytes) -> list[str]:
    values, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadPayloadError(f"input '{name}' BYTES element at byte {offset} has a truncated length prefix")
        length = int.from_bytes(raw[offset : offset + 4], "little")
        start, offset = offset + 4, offset + 4 + length
        if offset > len(raw):
            raise BadPayloadError(f"input '{name}' BYTES element at byte {start - 4} runs past the end of its data")
        try:  # text, as a JSON string would be
            values.append(raw[start:offset].decode())
        except UnicodeDecodeError:
            raise BadPayloadError(f"input '{name}' BYTES element at byte {start - 4} is not UTF-8 text") from None
    return values


def encode_raw(array: np.ndarray, datatype: str) -> bytes:
    """The raw bytes of a tensor's values, row-major; BYTES elements are `bytes` as they are, anything else as text."""
    flat = np.asarray(array).reshape(-1)
    if datatype == "BYTES":
        encoded = [value if isinstance(value, bytes) else str(value).encode() for value in flat]
        return b"".join(len(value).to_bytes(4, "little") + value for value in encoded)
    return np.ascontiguousarray(flat, dtype=RAW_DTYPES[datatype]).tobytes()


def features_of(tensors: list[tuple[str, np.ndarray]]) -> Features:
    """One 2-D tensor means positional features; one `[N]` or `[N, 1]` tensor per column means named features."""
    if len(tensors) == 1 and tensors[0][1].ndim == 2:
        return Features(tensors[0][1])
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
    stacked = np.column_stack(columns)
    kinds = {column.dtype.kind for column in columns}
    return Features(stacked.astype(object) if "O" in kinds else stacked, names)


def output_tensors(model: str, prediction: Prediction, outputs: tuple[str, ...] | None) -> list[OutputTensor]:
    """`predict` (`[N]`, or `[N, K]` for multi-output regressors) and, with probabilities, `predict_proba`."""
    available = {PREDICT_OUTPUT: _predict_tensor(prediction)}
    if prediction.probabilities is not None:
        available[PROBA_OUTPUT] = _proba_tensor(prediction.probabilities)
    wanted = outputs if outputs is not None else tuple(available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise BadPayloadError(
            f"Model '{model}' has no output {', '.join(repr(n) for n in unknown)}; available: {', '.join(available)}"
        )
    return [available[name] for name in wanted]


def datatype_of(values: list[Any]) -> str:
    """The OIP datatype of JSON-ready values (bool before int: bool is an int in Python)."""
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _predict_tensor(prediction: Prediction) -> OutputTensor:
    values = prediction.predictions
    if values and isinstance(values[0], list):  # multi-output regressors: [N, K]
        flat = [v for row in values for v in row]
        shape = [len(values), len(values[0])]
    else:
        flat, shape = values, [len(values)]
    datatype = datatype_of(flat)
    array = np.asarray(flat, dtype=object if datatype == "BYTES" else None)
    return OutputTensor(PREDICT_OUTPUT, datatype, shape, array)


def _proba_tensor(probabilities: list[list[float]]) -> OutputTensor:
    width = len(probabilities[0]) if probabilities else 0
    array = np.asarray(probabilities, dtype=float).reshape(len(probabilities), width)
    return OutputTensor(PROBA_OUTPUT, "FP64", [len(probabilities), width], array)
