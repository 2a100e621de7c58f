"""Open Inference Protocol v2 (KServe, Triton, MLServer) over HTTP: `infer` requests and responses, in JSON and in
the binary tensor extension, and model metadata.

A request carries one 2-D input (`shape [N, F]`), or one input per column (each `shape [N]` or `[N, 1]`, the input
names being the column names). `data` may be flat (row-major) or nested; its element count must equal the product
of `shape`. Responses carry `predict` (shape `[N]`) and, for models with probabilities, `predict_proba`
(shape `[N, C]`); a request may ask for a subset with `outputs`.

Binary tensor extension (tritonclient's default): the `Inference-Header-Content-Length` header gives the length of
the leading JSON; the rest of the body is the raw data of every input whose `parameters.binary_data_size` is set, in
input order. An output goes back raw when it asks `parameters.binary_data: true`, or sets nothing and the request's
`parameters.binary_data_output` is true; the answer then has the same header and layout (`application/octet-stream`,
as Triton answers), other outputs staying JSON. The request's content type may be JSON, octet-stream or none (the
sync tritonclient sends none, the aio one octet-stream). Tensors are checked by `deployments/codecs/oip_tensors.py`,
which the gRPC service shares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deployments.codecs.arrays import JSON_CONTENT_TYPE, parse_json_object
from deployments.codecs.oip_tensors import (
    OutputTensor,
    encode_raw,
    features_of,
    output_tensors,
    tensor_array,
)
from deployments.codecs.predict_codec import PredictCodec, RawBody
from deployments.errors import BadPayloadError
from deployments.types import Features, ModelMetadata, Prediction

SERVER_NAME = "rayship"
SERVER_VERSION = "0.1.0"
EXTENSIONS: list[str] = ["binary_tensor_data"]
HEADER_LENGTH = "inference-header-content-length"
BINARY_CONTENT_TYPE = "application/octet-stream"  # what Triton answers binary with, and aiohttp's default for bytes
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit takes "²", which int() refuses


@dataclass(frozen=True)
class InferRequest:
    """A decoded OIP v2 infer request, with what its answer must look like.

    `binary_data_output` is the request's default for every output; `binary_data` holds the outputs that set their
    own `parameters.binary_data`, which overrides it (either way).
    """

    features: Features
    request_id: str | None
    outputs: tuple[str, ...] | None
    binary_data_output: bool = False
    binary_data: Mapping[str, bool] = field(default_factory=dict)


def decode_infer(body: bytes, header_length: str | None = None) -> InferRequest:
    """`header_length` is the `Inference-Header-Content-Length` header as sent, if it was."""
    header, raw = _split_body(body, header_length)
    payload = parse_json_object(header)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadPayloadError("'inputs' must be a non-empty list of tensors")
    chunks = _RawChunks(raw)
    tensors = [_decode_tensor(tensor, index, chunks) for index, tensor in enumerate(inputs)]
    chunks.check_consumed()
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadPayloadError("'id' must be a string")
    outputs, binary_data = _requested_outputs(payload.get("outputs"))
    binary_data_output = _flag(_parameters(payload, "the request"), "binary_data_output", "the request")
    return InferRequest(features_of(tensors), request_id, outputs, bool(binary_data_output), binary_data)


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The leading JSON and the binary data after it."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not _INTEGER.fullmatch(text):
        raise BadPayloadError(f"Inference-Header-Content-Length '{header_length}' is not an integer")
    digits = text.lstrip("-").lstrip("0")
    shown = text if len(text) <= 40 else f"{text[:40]}..."
    if text.startswith("-") and digits:
        raise BadPayloadError(f"Inference-Header-Content-Length {shown} is negative")
    # More digits than any body's length has is past its end; not parsed, as int() refuses over 4300 digits.
    if len(digits) > 19 or int(digits or "0") > len(body):
        raise BadPayloadError(f"Inference-Header-Content-Length {shown} is past the end of the {len(body)}-byte body")
    length = int(digits or "0")
    return body[:length], body[length:]


class _RawChunks:
    """The binary part of a request, handed out input by input."""

    def __init__(self, raw: bytes) -> None:
        self._raw, self._offset = raw, 0

    def take(self, name: str, size: Any) -> bytes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadPayloadError(f"input '{name}' binary_data_size must be a non-negative integer")
        end, left = self._offset + size, len(self._raw) - self._offset
        if end > len(self._raw):
            raise BadPayloadError(
                f"input '{name}' binary_data_size {size} is more than the {left} bytes of binary data left"
            )
        chunk, self._offset = self._raw[self._offset : end], end
        return chunk

    def check_consumed(self) -> None:
        if self._offset != len(self._raw):
            raise BadPayloadError(
                f"the binary data has {len(self._raw)} bytes but the inputs' binary_data_size add up to {self._offset}"
            )


def _decode_tensor(tensor: Any, index: int, chunks: _RawChunks) -> tuple[str, np.ndarray]:
    if not isinstance(tensor, dict):
        raise BadPayloadError(f"input {index} must be an object with name, shape, datatype and data")
    size = _parameters(tensor, f"input {index}").get("binary_data_size")
    required = ("name", "shape", "datatype") if size is not None else ("name", "shape", "datatype", "data")
    missing = [key for key in required if key not in tensor]
    if missing:
        raise BadPayloadError(f"input {index} is missing {', '.join(repr(key) for key in missing)}")
    name = tensor["name"]
    if not isinstance(name, str) or not name:  # named by index here: the JSON has no usable name to show
        raise BadPayloadError(f"input {index} must have a non-empty string 'name'")
    if size is None:
        return name, tensor_array(name, tensor["shape"], tensor["datatype"], data=tensor["data"])
    if "data" in tensor:
        raise BadPayloadError(f"input '{name}' has both 'data' and parameters.binary_data_size; send one")
    return name, tensor_array(name, tensor["shape"], tensor["datatype"], raw=chunks.take(name, size))


def _parameters(owner: dict[str, Any], what: str) -> dict[str, Any]:
    parameters = owner.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadPayloadError(f"{what} 'parameters' must be an object")
    return parameters


def _flag(parameters: dict[str, Any], key: str, what: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadPayloadError(f"{what} parameters.{key} must be true or false")
    return value


def _requested_outputs(outputs: Any) -> tuple[tuple[str, ...] | None, dict[str, bool]]:
    """The names asked for, and the `binary_data` of those that set it."""
    if outputs is None:
        return None, {}
    named = isinstance(outputs, list) and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    if not named:
        raise BadPayloadError("'outputs' must be a list of objects with a 'name'")
    binary_data = {}
    for output in outputs:
        what = f"output '{output['name']}'"
        flag = _flag(_parameters(output, what), "binary_data", what)
        if flag is not None:
            binary_data[output["name"]] = flag
    return tuple(output["name"] for output in outputs), binary_data


def encode_infer(
    model: str,
    prediction: Prediction,
    request_id: str | None,
    outputs: tuple[str, ...] | None,
    binary_data_output: bool = False,
    binary_data: Mapping[str, bool] | None = None,
) -> dict[str, Any] | RawBody:
    """JSON, or the binary extension's body when any output goes raw (`binary_data` overriding the default)."""
    overrides = binary_data or {}
    tensors = output_tensors(model, prediction, outputs)
    raw = [encode_raw(t.array, t.datatype) if overrides.get(t.name, binary_data_output) else None for t in tensors]
    response: dict[str, Any] = {
        "model_name": model,
        "model_version": prediction.version,
        "outputs": [_output_json(tensor, data) for tensor, data in zip(tensors, raw, strict=True)],
    }
    if request_id is not None:
        response["id"] = request_id
    if all(data is None for data in raw):
        return response
    # Serialised as Starlette's JSONResponse would (a NaN is an error either way); the header counts bytes.
    header = json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    content = header + b"".join(data for data in raw if data is not None)
    return RawBody(content, BINARY_CONTENT_TYPE, {HEADER_LENGTH: str(len(header))})


def _output_json(tensor: OutputTensor, raw: bytes | None) -> dict[str, Any]:
    output: dict[str, Any] = {"name": tensor.name, "shape": tensor.shape, "datatype": tensor.datatype}
    if raw is None:
        output["data"] = tensor.array.reshape(-1).tolist()
    else:
        output["parameters"] = {"binary_data_size": len(raw)}
    return output


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


def _decode(body: bytes, _media_type: str, headers: Mapping[str, str]) -> InferRequest:
    return decode_infer(body, headers.get(HEADER_LENGTH))


def _encode(model: str, prediction: Prediction, request: InferRequest) -> dict[str, Any] | RawBody:
    return encode_infer(
        model, prediction, request.request_id, request.outputs, request.binary_data_output, request.binary_data
    )


INFER: PredictCodec[InferRequest] = PredictCodec(
    paths=("/v2/models/{model}/versions/{version}/infer", "/v2/models/{model}/infer"),
    content_types=(JSON_CONTENT_TYPE, BINARY_CONTENT_TYPE),
    decode=_decode,
    features=lambda request: request.features,
    encode=_encode,
)
