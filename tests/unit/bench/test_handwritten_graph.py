"""The hand-written Serve graph without Ray: its OIP v2 parsing, batched predict and encoding, and its ingress route."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from ray import serve

from bench import bench_serving
from bench import handwritten_graph_app as graph

OIP_BODY = bench_serving.OIP_REQUEST


def test_the_model_name_and_version_come_from_the_pinned_uri() -> None:
    assert graph.name_and_version("models:/bench-iris/12") == ("bench-iris", "12")
    with pytest.raises(ValueError, match="not a pinned model URI"):
        graph.name_and_version("models:/bench-iris@champion")


@pytest.mark.parametrize(
    ("data", "shape"),
    [([5.1, 3.5, 1.4, 0.2, 6.0, 3.0, 4.8, 1.8], [2, 4]), ([[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 4.8, 1.8]], [2, 4])],
)
def test_an_oip_request_gives_its_rows_from_flat_or_nested_data(data, shape) -> None:
    rows = graph.parse_infer({"inputs": [{"name": "x", "shape": shape, "datatype": "FP64", "data": data}]})
    assert rows.tolist() == [[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 4.8, 1.8]]


def test_the_benchmarks_request_parses_to_its_one_row() -> None:
    assert graph.parse_infer(OIP_BODY).tolist() == [bench_serving.ROW]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "not a one-input OIP v2 request"),
        ({"inputs": []}, "not a one-input OIP v2 request"),
        ([1, 2], "not a one-input OIP v2 request"),
        ({"inputs": [{"shape": [1, 2], "data": ["a", "b"]}]}, "not a one-input OIP v2 request"),
        ({"inputs": [{"shape": [1, 3], "data": [1.0, 2.0]}]}, "not a one-input OIP v2 request"),
        ({"inputs": [{"shape": [4], "data": [1.0, 2.0, 3.0, 4.0]}]}, r"shape \[N, F\], not \[4\]"),
    ],
)
def test_what_is_not_a_one_input_request_of_numbers_is_refused(body, message) -> None:
    with pytest.raises(ValueError, match=message):
        graph.parse_infer(body)


def test_a_batch_is_one_model_call_answered_per_request() -> None:
    calls = []

    def run(values: np.ndarray, columns):
        calls.append(values.copy())
        labels = (values[:, 0] > 5).astype(np.int64)
        return labels, np.column_stack([1 - labels, labels]).astype(float)

    requests = [np.asarray([[4.0, 0.0]]), np.asarray([[6.0, 0.0], [1.0, 0.0]]), np.asarray([[7.0, 0.0]])]
    answers = graph.predict_batch(run, requests)
    assert len(calls) == 1 and calls[0].shape == (4, 2)
    assert [outputs[0] for outputs in answers] == [
        {"name": "predict", "shape": [1], "datatype": "INT64", "data": [0]},
        {"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]},
        {"name": "predict", "shape": [1], "datatype": "INT64", "data": [1]},
    ]
    assert answers[1][1] == {"name": "predict_proba", "shape": [2, 2], "datatype": "FP64", "data": [0.0, 1.0, 1.0, 0.0]}


def test_labels_without_probabilities_answer_predict_alone_with_their_datatype() -> None:
    answers = graph.predict_batch(
        lambda values, columns: (np.asarray(["setosa"] * len(values)), None), [np.ones((1, 4))]
    )
    assert answers == [[{"name": "predict", "shape": [1], "datatype": "BYTES", "data": ["setosa"]}]]
    regression = graph.predict_batch(lambda values, columns: (values[:, 0] * 0.5, None), [np.ones((1, 4))])
    assert regression[0][0]["datatype"] == "FP64" and regression[0][0]["data"] == [0.5]


def test_the_answer_names_the_model_version_and_echoes_the_request_id() -> None:
    outputs = [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [0]}]
    assert graph.encode_infer("iris", "3", outputs) == {"model_name": "iris", "model_version": "3", "outputs": outputs}
    assert graph.encode_infer("iris", "3", outputs, "req-1")["id"] == "req-1"


def test_a_real_forest_through_rayships_predictor_answers_as_the_estimator(tmp_path: Path) -> None:
    import mlflow
    from mlflow.models import Model
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    from deployments.predictors import load_predictor

    x, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    mlflow.sklearn.save_model(model, tmp_path / "m", skops_trusted_types=["sklearn.tree._tree.Tree"])
    predictor = load_predictor(tmp_path / "m", Model.load(str(tmp_path / "m")).flavors)
    answers = graph.predict_batch(predictor.run, [x[:1], x[50:53]])
    assert [outputs[0]["data"] for outputs in answers] == [
        model.predict(x[:1]).tolist(),
        model.predict(x[50:53]).tolist(),
    ]
    assert answers[1][1]["shape"] == [3, 3]
    assert answers[1][1]["data"] == pytest.approx(model.predict_proba(x[50:53]).reshape(-1).tolist())


class FakeModelHandle:
    """The ingress's `DeploymentHandle` to the model deployment: `predict.remote(rows)` answers every row class 2."""

    def __init__(self) -> None:
        self.predict = self
        self.calls: list[list] = []

    def remote(self, rows: np.ndarray):
        self.calls.append(rows.tolist())

        async def answer():
            return graph.predict_batch(lambda values, columns: (np.full(len(values), 2), None), [rows])[0]

        return answer()


@pytest.fixture
def ingress(monkeypatch):
    """The ingress's FastAPI routes, served in-process: Serve's replica context is the one thing faked."""
    handle = FakeModelHandle()
    servable = SimpleNamespace(_model=handle, _name="bench-iris", _version="1")
    monkeypatch.setattr(serve, "get_replica_context", lambda: SimpleNamespace(servable_object=servable))
    return TestClient(graph.api), handle


def test_the_ingress_answers_the_benchmarks_request_through_the_handle(ingress) -> None:
    client, handle = ingress
    response = client.post("/v2/models/bench-iris/infer", json={**OIP_BODY, "id": "r1"})
    assert response.status_code == 200
    assert response.json() == {
        "model_name": "bench-iris",
        "model_version": "1",
        "outputs": [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [2]}],
        "id": "r1",
    }
    assert handle.calls == [[bench_serving.ROW]]


def test_the_ingress_refuses_another_model_and_a_bad_body_without_calling_the_model(ingress) -> None:
    client, handle = ingress
    assert client.post("/v2/models/other/infer", json=OIP_BODY).status_code == 404
    assert client.post("/v2/models/bench-iris/infer", content=b"{").status_code == 400
    bad = client.post("/v2/models/bench-iris/infer", json={"inputs": [{"shape": [4], "data": [1, 2, 3, 4]}]})
    assert bad.status_code == 400 and "shape [N, F]" in bad.json()["detail"]
    assert handle.calls == []


def test_the_graph_is_two_deployments_batching_as_the_gateway_does() -> None:
    assert isinstance(graph.build_app({"model_uri": "models:/bench-iris/1"}), serve.Application)
    assert (graph.MAX_BATCH_SIZE, graph.BATCH_WAIT_TIMEOUT_S) == (32, 0.002)
    # A replica admitting fewer requests than a batch holds would never fill one.
    assert graph.HandwrittenModel.max_ongoing_requests >= graph.MAX_BATCH_SIZE
    assert graph.HandwrittenIngress.max_ongoing_requests == 256


def test_the_wrk_script_sends_the_oip_request_with_the_row_post_lua_sends() -> None:
    def body(script: Path) -> dict:
        return json.loads(re.search(r"^wrk\.body = '(.*)'$", script.read_text(), re.MULTILINE).group(1))

    assert body(bench_serving.OIP_SCRIPT) == OIP_BODY
    assert body(bench_serving.SCRIPT) == bench_serving.V1_REQUEST
    assert OIP_BODY["inputs"][0]["data"] == bench_serving.V1_REQUEST["instances"][0]
