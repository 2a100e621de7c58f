"""OIP v2 gRPC messages to and from the gateway's protocol-free values, over the same tensor core as the HTTP
codec (`deployments/codecs/oip_tensors.py`), so both transports accept and refuse the same tensors.

Inputs may come as typed `contents` or as `raw_input_contents`; outputs always go back raw (every OIP client reads
`raw_output_contents`, and it is the only form FP16 has).
"""

from __future__ import annotations

from dataclasses import dataclass

from deployments.codecs import oip
from deployments.codecs.oip_tensors import encode_raw, features_of, output_tensors, tensor_array
from deployments.errors import BadPayloadError
from deployments.gateway.oip_grpc import grpc_predict_v2_pb2 as pb
from deployments.types import Features, ModelMetadata, Served

# datatype -> the field of InferTensorContents that carries it (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    **dict.fromkeys(("INT8", "INT16", "INT32"), "int_contents"),
    "INT64": "int64_contents",
    **dict.fromkeys(("UINT8", "UINT16", "UINT32"), "uint_contents"),
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


@dataclass(frozen=True)
class InferCall:
    """A decoded ModelInfer request; an empty `model_version` in the message means the policy chooses."""

    model: str
    version: str | None
    request_id: str | None
    features: Features
    outputs: tuple[str, ...] | None


def infer_call(request: pb.ModelInferRequest) -> InferCall:
    if not request.model_name:
        raise BadPayloadError("ModelInferRequest must name the model ('model_name')")
    if not request.inputs:
        raise BadPayloadError("'inputs' must be a non-empty list of tensors")
    raws = list(request.raw_input_contents)
    if raws and len(raws) != len(request.inputs):
        raise BadPayloadError(f"raw_input_contents has {len(raws)} entries for {len(request.inputs)} inputs")
    tensors = [
        (tensor.name, _input_array(tensor, raws[index] if raws else None))
        for index, tensor in enumerate(request.inputs)
    ]
    return InferCall(
        model=request.model_name,
        version=request.model_version or None,
        request_id=request.id or None,
        features=features_of(tensors),
        outputs=tuple(output.name for output in request.outputs) or None,
    )


def _input_array(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None):
    shape = list(tensor.shape)
    if raw is not None:
        if tensor.HasField("contents"):
            raise BadPayloadError(f"input '{tensor.name}' has both contents and raw_input_contents")
        return tensor_array(tensor.name, shape, tensor.datatype, raw=raw)
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None and tensor.datatype == "FP16":
        raise BadPayloadError(f"input '{tensor.name}' is FP16, which travels in raw_input_contents only")
    values = list(getattr(tensor.contents, field)) if field else []
    if tensor.datatype == "BYTES":
        values = [_text(tensor.name, value) for value in values]
    return tensor_array(tensor.name, shape, tensor.datatype, data=values)


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise BadPayloadError(f"input '{name}' holds BYTES that are not UTF-8 text") from None


def infer_response(call: InferCall, served: Served) -> pb.ModelInferResponse:
    tensors = output_tensors(call.model, served.prediction, call.outputs)
    return pb.ModelInferResponse(
        model_name=call.model,
        model_version=served.version,
        id=call.request_id or "",
        outputs=[
            pb.ModelInferResponse.InferOutputTensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in tensors
        ],
        raw_output_contents=[encode_raw(t.array, t.datatype) for t in tensors],
    )


def metadata_response(model: str, versions: list[str], metadata: ModelMetadata) -> pb.ModelMetadataResponse:
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=model,
        versions=versions,
        platform=metadata.platform,
        inputs=[tensor(name=s.name, datatype=s.datatype, shape=s.shape) for s in metadata.inputs],
        outputs=[tensor(name=s.name, datatype=s.datatype, shape=s.shape) for s in metadata.outputs],
    )


def server_metadata_response() -> pb.ServerMetadataResponse:
    return pb.ServerMetadataResponse(name=oip.SERVER_NAME, version=oip.SERVER_VERSION, extensions=oip.EXTENSIONS)
