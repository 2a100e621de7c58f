from __future__ import annotations

import json

import numpy as np
import pytest

from deployments.codecs import kserve_v1, mlflow_scoring, oip
from deployments.errors import BadPayloadError, NotJsonError
from deployments.types import Prediction


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def tensor(data: list, shape: list[int], name: str = "input-0", datatype: str = "FP64") -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def bad_oip(payload: object) -> str:
    with pytest.raises(BadPayloadError) as caught:
        oip.decode_infer(body(payload))
    return caught.value.message


def test_oip_decodes_a_flat_or_nested_2d_tensor() -> None:
    flat = oip.decode_infer(body({"id": "7", "inputs": [tensor([1, 2, 3, 4, 5, 6], [2, 3])]}))
    nested = oip.decode_infer(body({"inputs": [tensor([[1, 2, 3], [4, 5, 6]], [2, 3])]}))
    assert flat.features.values.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert np.array_equal(flat.features.values, nested.features.values)
    assert (flat.features.columns, flat.request_id, flat.outputs) == (None, "7", None)


def test_oip_decodes_one_input_per_column() -> None:
    request = oip.decode_infer(
        body(
            {
                "inputs": [tensor([1.0, 2.0], [2], name="a"), tensor([3.0, 4.0], [2, 1], name="b")],
                "outputs": [{"name": "predict"}],
            }
        )
    )
    assert request.features.columns == ("a", "b")
    assert request.features.values.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert request.outputs == ("predict",)


def test_oip_names_what_is_wrong() -> None:
    assert bad_oip({"inputs": [tensor([1, 2, 3], [2, 2])]}) == "input 'input-0' has 3 elements but shape [2, 2] needs 4"
    assert bad_oip({"inputs": [tensor(["a", "b"], [1, 2])]}) == "input 'input-0' data does not match datatype FP64"
    assert bad_oip({"inputs": [tensor([1.5], [1, 1], datatype="INT64")]}) == (
        "input 'input-0' data does not match datatype INT64"
    )
    assert (
        bad_oip({"inputs": [tensor([1], [1, 1], datatype="FP128")]}) == "input 'input-0' has unknown datatype 'FP128'"
    )
    assert bad_oip({"inputs": []}) == "'inputs' must be a non-empty list of tensors"
    assert bad_oip({"inputs": [{"name": "x", "data": []}]}) == "input 0 is missing 'shape', 'datatype'"
    assert bad_oip({"inputs": [tensor([[1, 2], [3]], [2, 2])]}) == (
        "input 'input-0' data is ragged: every row must have the same length"
    )
    assert (
        bad_oip({"inputs": [tensor([1] * 8, [2, 2, 2])]}) == "input 'input-0' must be 1-D or 2-D, got shape [2, 2, 2]"
    )
    assert bad_oip([1, 2]) == "The request body must be a JSON object, got list"


def test_non_json_is_a_400_naming_the_parse_error() -> None:
    with pytest.raises(NotJsonError, match="^The request body is not valid JSON: Expecting value: line 1 column 1"):
        oip.decode_infer(b"not json")


def test_oip_encodes_predictions_and_probabilities() -> None:
    prediction = Prediction("3", [0, 2], [[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]], [0, 1, 2])
    response = oip.encode_infer("iris", prediction, "42", None)
    assert response == {
        "model_name": "iris",
        "model_version": "3",
        "id": "42",
        "outputs": [
            {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]},
            {"name": "predict_proba", "shape": [2, 3], "datatype": "FP64", "data": [0.9, 0.1, 0.0, 0.0, 0.2, 0.8]},
        ],
    }
    only = oip.encode_infer("iris", prediction, None, ("predict_proba",))
    assert [o["name"] for o in only["outputs"]] == ["predict_proba"] and "id" not in only
    with pytest.raises(
        BadPayloadError, match="^Model 'iris' has no output 'scores'; available: predict, predict_proba$"
    ):
        oip.encode_infer("iris", prediction, None, ("scores",))


def test_kserve_v1_rows_and_records() -> None:
    assert kserve_v1.decode_predict(body({"instances": [[1, 2], [3, 4]]})).values.tolist() == [[1, 2], [3, 4]]
    records = kserve_v1.decode_predict(body({"instances": [{"a": 1, "b": 2}]}))
    assert (records.columns, records.values.tolist()) == (("a", "b"), [[1, 2]])
    with pytest.raises(BadPayloadError, match="^The request must have 'instances': a non-empty list of rows$"):
        kserve_v1.decode_predict(body({"inputs": [[1]]}))
    with pytest.raises(BadPayloadError, match="^'instances' must be a non-empty list$"):
        kserve_v1.decode_predict(body({"instances": []}))
    assert kserve_v1.encode_predict(Prediction("1", [1, 0])) == {"predictions": [1, 0]}


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}},
        {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]},
        {"inputs": {"a": [1, 3], "b": [2, 4]}},
        {"instances": [{"a": 1, "b": 2}, {"a": 3, "b": 4}], "params": {"x": 1}},
    ],
)
def test_mlflow_json_formats_give_the_same_named_rows(payload: dict) -> None:
    features = mlflow_scoring.decode_invocations(body(payload), "application/json")
    assert (features.columns, features.values.tolist()) == (("a", "b"), [[1, 2], [3, 4]])


def test_mlflow_instances_as_rows_and_csv() -> None:
    rows = mlflow_scoring.decode_invocations(body({"instances": [[1, 2]]}), "application/json")
    assert (rows.columns, rows.values.tolist()) == (None, [[1, 2]])
    csv = mlflow_scoring.decode_invocations(b"a,b\n1,2\n3.5,4\n", "text/csv")
    assert (csv.columns, csv.values.tolist()) == (("a", "b"), [[1.0, 2.0], [3.5, 4.0]])


def test_mlflow_needs_exactly_one_format_key() -> None:
    keys = "dataframe_split, dataframe_records, instances, inputs"
    with pytest.raises(BadPayloadError, match=f"^The request must have exactly one of {keys}; found: none$"):
        mlflow_scoring.decode_invocations(body({"data": [[1]]}), "application/json")
    with pytest.raises(
        BadPayloadError, match=f"^The request must have exactly one of {keys}; found: instances, inputs$"
    ):
        mlflow_scoring.decode_invocations(body({"instances": [[1]], "inputs": [[1]]}), "application/json")
    with pytest.raises(BadPayloadError, match="^CSV line 3 has 1 values, the header has 2$"):
        mlflow_scoring.decode_invocations(b"a,b\n1,2\n3\n", "text/csv")
