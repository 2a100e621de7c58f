"""The gateway's OIP v2 gRPC service over a fake version caller: real protobuf messages in and out, a fake call
context standing in for Serve's `RayServegRPCContext`, and the error table as gRPC statuses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from deployments.codecs.oip_tensors import decode_raw, encode_raw
from deployments.dataplane import DataPlane
from deployments.gateway.oip_grpc import grpc_predict_v2_pb2 as pb
from deployments.gateway.oip_grpc.loopback import bound_address
from deployments.gateway.oip_grpc.servicer import GrpcInferenceMethods, GrpcService
from deployments.gateway.service import GatewayService
from deployments.traffic_policy import GatewayConfig

ROOT = Path(__file__).resolve().parents[3]
PROTO = "deployments/gateway/oip_grpc/grpc_predict_v2.proto"


class FakeContext:
    def __init__(self, metadata: dict[str, str] | None = None) -> None:
        self.metadata = list((metadata or {}).items())
        self.code, self.details, self.trailing = None, None, None

    def invocation_metadata(self):
        return self.metadata

    def set_code(self, code) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def set_trailing_metadata(self, trailing_metadata) -> None:
        self.trailing = trailing_metadata


class Gateway(GrpcInferenceMethods):
    def __init__(self, plane: DataPlane, environ: dict[str, str] | None = None) -> None:
        self._grpc = GrpcService(GatewayService(plane, environ or {}))


@pytest.fixture
def gateway(fake_caller, recorder, make_config):
    def build(environ: dict[str, str] | None = None, **policy: object) -> Gateway:
        top_level = policy.pop("gateway", {})
        config = {**make_config(**policy), **top_level}
        plane = DataPlane(fake_caller, recorder, GatewayConfig.model_validate(config), rng=lambda: 0.0)
        return Gateway(plane, environ)

    return build


def call(method, request, metadata: dict[str, str] | None = None):
    context = FakeContext(metadata)
    return asyncio.run(method(request, context)), context


def raw_request(rows: np.ndarray, **fields) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=list(rows.shape))
    return pb.ModelInferRequest(
        model_name="iris", inputs=[tensor], raw_input_contents=[encode_raw(rows, "FP32")], **fields
    )


def test_model_infer_answers_raw_outputs_with_the_serving_version(gateway) -> None:
    rows = np.asarray([[1.0, 2.0], [3.0, 4.5]], dtype=np.float32)
    response, context = call(gateway().ModelInfer, raw_request(rows, id="req-1"))
    assert context.code is None
    assert (response.model_name, response.model_version, response.id) == ("iris", "1", "req-1")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("predict", "FP64", [2]),
        ("predict_proba", "FP64", [2, 2]),
    ]
    predict = decode_raw("predict", "FP64", [2], response.raw_output_contents[0])
    assert predict.tolist() == [3.0, 7.5]
    assert context.trailing == [("x-model-version", "1")]


def test_model_infer_takes_typed_contents_named_columns_a_pinned_version_and_an_output_subset(gateway) -> None:
    columns = [
        pb.ModelInferRequest.InferInputTensor(
            name=name, datatype="FP64", shape=[2], contents=pb.InferTensorContents(fp64_contents=values)
        )
        for name, values in (("a", [1.0, 2.0]), ("b", [10.0, 20.0]))
    ]
    request = pb.ModelInferRequest(
        model_name="iris",
        model_version="2",
        inputs=columns,
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="predict")],
    )
    response, context = call(gateway().ModelInfer, request)
    assert context.code is None
    assert response.model_version == "2"
    assert [o.name for o in response.outputs] == ["predict"]
    assert decode_raw("predict", "FP64", [2], response.raw_output_contents[0]).tolist() == [11.0, 22.0]


@pytest.mark.parametrize(
    ("request_message", "code", "details"),
    [
        (
            pb.ModelInferRequest(model_name="nope", inputs=[]),
            grpc.StatusCode.NOT_FOUND,
            "Model 'nope' is not served by this gateway",
        ),
        (
            pb.ModelInferRequest(model_name="iris", model_version="9"),
            grpc.StatusCode.NOT_FOUND,
            "Model 'iris' has no version '9'",
        ),
        (
            pb.ModelInferRequest(model_name="iris"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "'inputs' must be a non-empty list of tensors",
        ),
        (
            pb.ModelInferRequest(
                model_name="iris",
                inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 2])],
                raw_input_contents=[b"\x00" * 8, b"\x00"],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "raw_input_contents has 2 entries for 1 inputs",
        ),
        (
            pb.ModelInferRequest(
                model_name="iris",
                inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP16", shape=[1, 2])],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x' is FP16, which travels in raw_input_contents only",
        ),
        (
            pb.ModelInferRequest(
                model_name="iris",
                inputs=[
                    pb.ModelInferRequest.InferInputTensor(
                        name="x",
                        datatype="BYTES",
                        shape=[1, 1],
                        contents=pb.InferTensorContents(bytes_contents=[b"\xff"]),
                    )
                ],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x' holds BYTES that are not UTF-8 text",
        ),
    ],
)
def test_model_infer_errors_are_statuses_with_the_same_messages_as_http(gateway, request_message, code, details):
    response, context = call(gateway().ModelInfer, request_message)
    assert (context.code, context.details) == (code, details)
    assert response == pb.ModelInferResponse()


def test_a_version_failure_keeps_its_status(gateway, fake_caller) -> None:
    fake_caller.ready = set()
    rows = np.ones((1, 2), dtype=np.float32)
    _, context = call(gateway().ModelInfer, raw_request(rows))
    assert context.code == grpc.StatusCode.UNAVAILABLE
    assert context.details == "Model 'iris' has no ready version"


def test_api_keys_travel_as_metadata(gateway) -> None:
    keyed = gateway({"KEYS": "k1"}, gateway={"api_keys_env": "KEYS"})
    rows = np.ones((1, 2), dtype=np.float32)
    _, missing = call(keyed.ModelInfer, raw_request(rows))
    assert missing.code == grpc.StatusCode.UNAUTHENTICATED
    _, wrong = call(keyed.ModelInfer, raw_request(rows), {"x-api-key": "k2"})
    assert (wrong.code, wrong.details) == (grpc.StatusCode.PERMISSION_DENIED, "The API key is not valid")
    answer, bearer = call(keyed.ModelInfer, raw_request(rows), {"authorization": "Bearer k1"})
    assert bearer.code is None and answer.model_version == "1"
    live, open_probe = call(keyed.ServerLive, pb.ServerLiveRequest())
    assert open_probe.code is None and live.live


def test_sticky_metadata_keeps_a_caller_on_one_version(gateway) -> None:
    sticky = gateway(sticky_header="X-User-Id")
    rows = np.ones((1, 2), dtype=np.float32)
    versions = {call(sticky.ModelInfer, raw_request(rows), {"x-user-id": "ada"})[0].model_version for _ in range(20)}
    assert len(versions) == 1


def test_a_message_over_the_body_limit_is_resource_exhausted(gateway) -> None:
    small = gateway(gateway={"max_body_bytes": 1024})
    _, context = call(small.ModelInfer, raw_request(np.ones((200, 2), dtype=np.float32)))
    assert (context.code, context.details) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "Request body exceeds the limit of 1024 bytes",
    )


def test_health_metadata_and_readiness(gateway, fake_caller) -> None:
    plane = gateway()
    assert call(plane.ServerReady, pb.ServerReadyRequest())[0].ready
    server, _ = call(plane.ServerMetadata, pb.ServerMetadataRequest())
    assert (server.name, list(server.extensions)) == ("rayship", ["binary_tensor_data"])
    metadata, context = call(plane.ModelMetadata, pb.ModelMetadataRequest(name="iris"))
    assert (metadata.name, list(metadata.versions), metadata.platform) == ("iris", ["1", "2"], "sklearn")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("input-0", "FP64", [-1, 2])]
    assert context.trailing == [("x-model-version", "1")]
    ready, context = call(plane.ModelReady, pb.ModelReadyRequest(name="iris", version="2"))
    assert ready.ready and context.trailing == [("x-model-version", "2")]
    fake_caller.ready = {"iris-v1"}
    assert not call(plane.ModelReady, pb.ModelReadyRequest(name="iris", version="2"))[0].ready
    _, missing = call(plane.ModelReady, pb.ModelReadyRequest(name="iris", version="7"))
    assert (missing.code, missing.details) == (grpc.StatusCode.NOT_FOUND, "Model 'iris' has no version '7'")


def test_grpc_binds_move_from_every_interface_to_the_configured_host() -> None:
    assert bound_address("[::]:9000", "127.0.0.1") == "127.0.0.1:9000"
    assert bound_address("[::]:9000", "::1") == "[::1]:9000"
    assert bound_address("10.0.0.5:9000", "127.0.0.1") == "10.0.0.5:9000"


def test_checked_in_stubs_are_what_make_protos_generates(tmp_path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        str(ROOT / PROTO),
    ]
    subprocess.run(command, check=True, capture_output=True)
    generated = sorted((tmp_path / "deployments/gateway/oip_grpc").iterdir())
    assert [path.name for path in generated] == [
        "grpc_predict_v2_pb2.py",
        "grpc_predict_v2_pb2.pyi",
        "grpc_predict_v2_pb2_grpc.py",
    ]
    for path in generated:
        assert path.read_text() == (ROOT / "deployments/gateway/oip_grpc" / path.name).read_text(), path.name
