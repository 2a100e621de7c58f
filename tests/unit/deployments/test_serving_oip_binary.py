"""OIP v2's binary tensor extension: raw tensor bytes per datatype, requests built and answers parsed by
tritonclient's own HTTP helpers (what `tritonclient.http` sends with its default settings), and the error table."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as triton

from deployments.codecs import oip
from deployments.codecs.oip_tensors import decode_raw, encode_raw, tensor_array
from deployments.codecs.predict_codec import RawBody
from deployments.errors import BadPayloadError
from deployments.types import Prediction
from tests.unit.deployments.test_serving_gateway_http import gateway  # noqa: F401  (the app fixture)

PREDICTION = Prediction("3", [0, 2], [[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]], [0, 1, 2])


def triton_request(inputs, outputs=None) -> tuple[bytes, str | None]:
    """The body and `Inference-Header-Content-Length` tritonclient's `infer` would send."""
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs=outputs)
    return body, None if json_size is None else str(json_size)


def triton_input(name: str, array: np.ndarray, datatype: str, binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def triton_result(answer: RawBody) -> triton.InferResult:
    return triton.InferenceServerClient.parse_response_body(
        answer.content, header_length=int(answer.headers[oip.HEADER_LENGTH])
    )


@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        ("BOOL", np.asarray([True, False, True])),
        *[(f"INT{b}", np.asarray([-3, 0, 7], dtype=f"int{b}")) for b in (8, 16, 32, 64)],
        *[(f"UINT{b}", np.asarray([0, 3, 200], dtype=f"uint{b}")) for b in (8, 16, 32, 64)],
        *[(f"FP{b}", np.asarray([1.5, -2.25, 0.0], dtype=f"float{b}")) for b in (16, 32, 64)],
        ("BYTES", np.asarray(["a", "", "ünï"], dtype=object)),
    ],
)
def test_raw_bytes_round_trip_every_datatype_as_triton_lays_them_out(datatype, values) -> None:
    laid_out = triton_input("x", values, datatype)._get_binary_data()
    assert encode_raw(values, datatype) == laid_out
    decoded = decode_raw("x", datatype, [3], laid_out)
    assert decoded.tolist() == values.tolist() and decoded.flags.writeable
    assert tensor_array("x", [3, 1], datatype, raw=laid_out).shape == (3, 1)


def test_bytes_elements_go_out_as_they_are_and_anything_else_as_text() -> None:
    assert encode_raw(np.asarray([b"\xff", 7], dtype=object), "BYTES") == b"\x01\x00\x00\x00\xff\x01\x00\x00\x007"


def test_a_tritonclient_default_request_decodes_and_its_answer_parses() -> None:
    rows = np.asarray([[1.0, 2.0], [3.0, 4.5]], dtype=np.float32)
    request = oip.decode_infer(*triton_request([triton_input("input-0", rows, "FP32")]))
    assert request.features.values.tolist() == rows.tolist()
    assert request.binary_data_output  # no outputs named: tritonclient asks every output raw
    answer = oip.INFER.encode("iris", PREDICTION, request)
    assert isinstance(answer, RawBody) and answer.media_type == "application/octet-stream"
    result = triton_result(answer)
    assert result.as_numpy("predict").tolist() == [0, 2]
    assert result.as_numpy("predict_proba").tolist() == PREDICTION.probabilities
    assert result.get_response()["model_version"] == "3"


def test_bytes_inputs_decode_to_text_like_json_strings() -> None:
    inputs = [
        triton_input("city", np.asarray(["Zürich", "Oslo"], dtype=object), "BYTES"),
        triton_input("size", np.asarray([3, 4], dtype=np.int32), "INT32"),
    ]
    request = oip.decode_infer(*triton_request(inputs))
    assert request.features.values.tolist() == [["Zürich", 3], ["Oslo", 4]]
    assert request.features.values.dtype == object


def test_json_and_binary_inputs_and_outputs_mix() -> None:
    inputs = [
        triton_input("a", np.asarray([1.0, 2.0]), "FP64", binary=True),
        triton_input("b", np.asarray([10, 20], dtype=np.int64), "INT64", binary=False),
    ]
    outputs = [triton.InferRequestedOutput("predict", binary_data=False), triton.InferRequestedOutput("predict_proba")]
    request = oip.decode_infer(*triton_request(inputs, outputs))
    assert (request.features.columns, request.features.values.tolist()) == (("a", "b"), [[1.0, 10.0], [2.0, 20.0]])
    assert (request.outputs, request.binary_data, request.binary_data_output) == (
        ("predict", "predict_proba"),
        {"predict": False, "predict_proba": True},
        False,
    )
    answer = oip.INFER.encode("iris", PREDICTION, request)
    header = json.loads(answer.content[: int(answer.headers[oip.HEADER_LENGTH])])
    assert header["outputs"][0] == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 48}
    assert triton_result(answer).as_numpy("predict_proba").tolist() == PREDICTION.probabilities


def test_an_output_binary_data_false_overrides_the_request_default() -> None:
    payload = {
        "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}],
        "outputs": [{"name": "predict", "parameters": {"binary_data": False}}],
        "parameters": {"binary_data_output": True},
    }
    request = oip.decode_infer(json.dumps(payload).encode())
    assert oip.INFER.encode("iris", PREDICTION, request)["outputs"][0]["data"] == [0, 2]
    plain = oip.decode_infer(json.dumps({"inputs": payload["inputs"]}).encode())
    assert isinstance(oip.INFER.encode("iris", PREDICTION, plain), dict)  # nothing asked raw: plain JSON


def bad(body: bytes | dict, header_length: str | None = None) -> str:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    with pytest.raises(BadPayloadError) as caught:
        oip.decode_infer(raw, header_length)
    return caught.value.message


def binary_input(size, shape=(1, 2), datatype="FP32", **extra) -> dict:
    return {"name": "x", "shape": list(shape), "datatype": datatype, "parameters": {"binary_data_size": size}, **extra}


def with_data(header: dict, data: bytes) -> tuple[bytes, str]:
    encoded = json.dumps(header).encode()
    return encoded + data, str(len(encoded))


def one(tensor: dict, data: bytes) -> str:
    return bad(*with_data({"inputs": [tensor]}, data))


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b'{"inputs": []}', "x9", "Inference-Header-Content-Length 'x9' is not an integer"),
        (b'{"inputs": []}', "²", "Inference-Header-Content-Length '²' is not an integer"),
        (b'{"inputs": []}', "-3", "Inference-Header-Content-Length -3 is negative"),
        (b'{"inputs": []}', "500", "Inference-Header-Content-Length 500 is past the end of the 14-byte body"),
        (b"{}", "9" * 5000, f"Inference-Header-Content-Length {'9' * 40}... is past the end of the 2-byte body"),
    ],
)
def test_the_header_length_must_be_a_byte_count_within_the_body(body, header_length, message) -> None:
    assert bad(body, header_length) == message


def test_binary_errors_name_what_is_wrong() -> None:
    assert one(binary_input(-1), b"") == "input 'x' binary_data_size must be a non-negative integer"
    assert one(binary_input("8"), b"") == "input 'x' binary_data_size must be a non-negative integer"
    assert (
        one(binary_input(8), b"\x00" * 4) == "input 'x' binary_data_size 8 is more than the 4 bytes of binary data left"
    )
    assert one(binary_input(4), b"\x00" * 4) == "input 'x' has 4 bytes but shape [1, 2] of FP32 needs 8"
    assert one(binary_input(8), b"\x00" * 12) == (
        "the binary data has 12 bytes but the inputs' binary_data_size add up to 8"
    )
    assert one(binary_input(8, data=[1.0, 2.0]), b"\x00" * 8) == (
        "input 'x' has both 'data' and parameters.binary_data_size; send one"
    )
    assert one(binary_input(2, shape=(1, 1), datatype="BYTES"), b"\x05\x00") == (
        "input 'x' BYTES element at byte 0 has a truncated length prefix"
    )
    assert one(binary_input(5, shape=(1, 1), datatype="BYTES"), b"\x09\x00\x00\x00a") == (
        "input 'x' BYTES element at byte 0 runs past the end of its data"
    )
    assert one(binary_input(5, shape=(1, 1), datatype="BYTES"), b"\x01\x00\x00\x00\xff") == (
        "input 'x' BYTES element at byte 0 is not UTF-8 text"
    )
    assert one(binary_input(10, shape=(1, 1), datatype="BYTES"), b"\x01\x00\x00\x00a\x01\x00\x00\x00b") == (
        "input 'x' has 2 elements but shape [1, 1] needs 1"
    )
    assert one(binary_input(2, datatype="BOOL"), b"\x01\x02") == "input 'x' BOOL data must be bytes 0 or 1"
    assert one(binary_input(8, datatype="FP128"), b"\x00" * 8) == "input 'x' has unknown datatype 'FP128'"
    assert one({**binary_input(0), "parameters": [1]}, b"") == "input 0 'parameters' must be an object"


def test_no_shape_allocates_memory_on_its_own() -> None:
    assert one(binary_input(0, shape=(10**20, 0)), b"") == "input 'x' cannot take shape [100000000000000000000, 0]"
    assert one(binary_input(8, shape=(10**20, 1)), b"\x00" * 8) == (
        "input 'x' has 8 bytes but shape [100000000000000000000, 1] of FP32 needs 400000000000000000000"
    )
    assert one(binary_input(4, shape=(10**20, 1), datatype="BYTES"), b"\x00" * 4) == (
        "input 'x' has 1 elements but shape [100000000000000000000, 1] needs 100000000000000000000"
    )


def test_the_json_path_keeps_its_messages_and_checks_the_parameters_it_reads() -> None:
    tensor = {"shape": [1], "datatype": "FP64", "data": [1.0]}
    assert bad({"inputs": [tensor]}) == "input 0 is missing 'name'"
    assert bad({"inputs": [{**tensor, "name": ""}]}) == "input 0 must have a non-empty string 'name'"
    assert bad({"inputs": [{**tensor, "name": "x"}], "parameters": {"binary_data_output": "yes"}}) == (
        "the request parameters.binary_data_output must be true or false"
    )
    assert bad({"inputs": [{**tensor, "name": "x"}], "outputs": [{"name": "predict", "parameters": 3}]}) == (
        "output 'predict' 'parameters' must be an object"
    )


def test_the_gateway_answers_tritonclient_over_http(gateway) -> None:  # noqa: F811
    client = gateway()
    body, header_length = triton_request([triton_input("input-0", np.asarray([[1.0, 2.0]], dtype=np.float32), "FP32")])
    # The sync tritonclient names no content type, the aio one (aiohttp) application/octet-stream.
    for extra in ({}, {"content-type": "application/octet-stream"}):
        response = client.post(
            "/v2/models/iris/infer", content=body, headers={"Inference-Header-Content-Length": header_length, **extra}
        )
        assert response.status_code == 200, response.text
        assert (response.headers["x-model-version"], response.headers["content-type"]) == (
            "1",
            "application/octet-stream",
        )
        result = triton.InferenceServerClient.parse_response_body(
            response.content, header_length=int(response.headers["inference-header-content-length"])
        )
        assert (result.as_numpy("predict").tolist(), result.as_numpy("predict_proba").tolist()) == (
            [3.0],
            [[0.25, 0.75]],
        )
    broken = client.post("/v2/models/iris/infer", content=body, headers={"Inference-Header-Content-Length": "9999"})
    assert (broken.status_code, broken.headers["x-model-version"]) == (400, "")
    assert broken.json() == {
        "error": f"Inference-Header-Content-Length 9999 is past the end of the {len(body)}-byte body"
    }
