"""The gateway's HTTP surface against a fake version caller (unit tier: no Ray, no network)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from deployments.dataplane import DataPlane
from deployments.gateway.prediction_log import PredictionLog
from deployments.gateway.rest.app import create_app
from deployments.output_split import split_outputs
from deployments.stats import ModelStats
from deployments.traffic_policy import GatewayConfig
from monitoring.feedback import encode_result
from monitoring.labels import PredictionRecord
from monitoring.monitor import Monitor

ADMIN = "admin-token"
JSON = {"content-type": "application/json"}
NOT_JSON = (
    "The request body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
)
SHORT = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2]}]}
OIP_BODY = {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}


class LocalMonitorLink:
    """The monitoring link over the real, pure `Monitor` in this process instead of the cluster's actor."""

    def __init__(self) -> None:
        self.predictions = PredictionLog()
        self.monitor = Monitor(started_at=0.0)

    def request_id(self) -> None:
        return None  # no Serve proxy here: the gateway's own middleware stamps the id

    async def status(self, model: str) -> dict:
        return self.monitor.status(model, time.time()).model_dump(mode="json")

    async def detail(self, model: str) -> dict:
        details = self.monitor.detail(model, time.time())
        return {version: detail.model_dump(mode="json") for version, detail in details.items()}

    async def feedback(self, model: str, items: list) -> dict:
        self.monitor.record([PredictionRecord(**r) for r in self.predictions.drain()], time.time())
        return encode_result(self.monitor.feedback(model, items, time.time()))


@pytest.fixture
def gateway(fake_caller, recorder, make_config):
    def build(
        config: dict | None = None, environ: dict | None = None, behind_serve: bool = False, monitoring="local"
    ) -> TestClient:
        plane = DataPlane(fake_caller, recorder, GatewayConfig.model_validate(config or make_config()), rng=lambda: 0.1)

        async def stats(model: str) -> ModelStats:
            return ModelStats(
                model=model, collected_at=1.0, oldest_push_at=1.0, replicas=1, policy_digests=[], versions={}
            )

        app = create_app(
            plane,
            ADMIN,
            stats,
            lambda: {"digest": "x"},
            environ or {},
            stamp_request_id=not behind_serve,
            monitoring=LocalMonitorLink() if monitoring == "local" else monitoring,
        )
        return TestClient(app)

    return build


def test_the_three_protocols_answer_with_the_serving_version(gateway) -> None:
    client = gateway()
    oip = client.post("/v2/models/iris/infer", json={**OIP_BODY, "id": "a1"})
    assert oip.status_code == 200
    assert oip.json()["outputs"][0] == {"name": "predict", "shape": [1], "datatype": "FP64", "data": [3.0]}
    assert (oip.json()["model_version"], oip.json()["id"], oip.headers["x-model-version"]) == ("1", "a1", "1")
    v1 = client.post("/v1/models/iris:predict", json={"instances": [[1, 2], [3, 4]]})
    assert (v1.status_code, v1.json(), v1.headers["x-model-version"]) == (200, {"predictions": [3.0, 7.0]}, "1")
    mlflow = client.post("/models/iris/invocations", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
    assert (mlflow.status_code, mlflow.json()) == (200, {"predictions": [3.0]})
    pinned = client.post("/v2/models/iris/versions/2/infer", json=OIP_BODY)
    assert (pinned.json()["model_version"], pinned.headers["x-model-version"]) == ("2", "2")


def test_request_ids_are_echoed_or_generated(gateway) -> None:
    client = gateway()
    assert client.get("/v2/health/live", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/v2/health/live", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"]
    assert len(generated) == 32 and generated != "bad id with spaces"
    missing = client.get("/nowhere")
    assert len(missing.headers["x-request-id"]) == 32 and missing.headers["x-model-version"] == ""


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2", 200),
        ("GET", "/v2/health/live", 200),
        ("GET", "/v2/health/ready", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/v2/models/iris/infer", 405),
        ("GET", "/-/rayship/policy", 401),
        ("GET", "/v2/models/iris/ready", 200),
    ],
)
def test_behind_serve_every_response_still_carries_a_model_version(gateway, method, path, status) -> None:
    response = gateway(behind_serve=True).request(method, path)
    assert response.status_code == status
    assert "x-model-version" in response.headers
    assert "x-request-id" not in response.headers  # Serve's proxy stamps it; a second header would be a duplicate


def test_a_version_in_the_query_string_is_not_a_path_version(gateway) -> None:
    response = gateway().post("/v2/models/iris/infer?version=2", json=OIP_BODY)
    assert (response.status_code, response.headers["x-model-version"]) == (200, "1")


@pytest.mark.parametrize(
    "method,path,kwargs,status,error",
    [
        ("post", "/v2/models/iris/infer", {"content": b"{nope", "headers": JSON}, 400, NOT_JSON),
        ("post", "/v2/models/iris/infer", {"json": SHORT}, 400, "input 'x' has 2 elements but shape [1, 3] needs 3"),
        ("post", "/v2/models/wine/infer", {"json": OIP_BODY}, 404, "Model 'wine' is not served by this gateway"),
        ("post", "/v2/models/iris/versions/7/infer", {"json": OIP_BODY}, 404, "Model 'iris' has no version '7'"),
        ("get", "/v2/models/iris/infer", {}, 405, "Method GET is not allowed for '/v2/models/iris/infer'"),
        (
            "post",
            "/v2/models/iris/infer",
            {"content": b"x" * 101, "headers": {"content-type": "application/json"}},
            413,
            "Request body exceeds the limit of 100 bytes",
        ),
        (
            "post",
            "/v1/models/iris:predict",
            {"content": b"1,2", "headers": {"content-type": "text/csv"}},
            415,
            "Unsupported content type 'text/csv'; send one of: application/json",
        ),
        (
            "post",
            "/models/iris/invocations",
            {"content": b"x", "headers": {"content-type": "text/plain"}},
            415,
            "Unsupported content type 'text/plain'; send one of: application/json, text/csv",
        ),
        ("get", "/v3/whatever", {}, 404, "No route for path '/v3/whatever'"),
    ],
)
def test_the_bad_input_table(gateway, make_config, method, path, kwargs, status, error) -> None:
    client = gateway({**make_config(), "max_body_bytes": 100})
    response = getattr(client, method)(path, **kwargs)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert "x-model-version" in response.headers and "x-request-id" in response.headers


def test_413_is_decided_from_content_length_before_reading(gateway, make_config) -> None:
    client = gateway({**make_config(), "max_body_bytes": 100})
    chunks = iter([b"{" + b" " * 200 + b"}"])
    response = client.post("/v2/models/iris/infer", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_api_keys_401_when_missing_and_403_when_wrong(gateway, make_config) -> None:
    client = gateway({**make_config(), "api_keys_env": "KEYS"}, environ={"KEYS": "k1, k2"})
    missing = client.post("/v2/models/iris/infer", json=OIP_BODY)
    assert (missing.status_code, missing.json()["error"]) == (
        401,
        "Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
    )
    wrong = client.post("/v2/models/iris/infer", json=OIP_BODY, headers={"authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (403, {"error": "The API key is not valid"})
    assert client.post("/v2/models/iris/infer", json=OIP_BODY, headers={"x-api-key": "k2"}).status_code == 200
    assert client.get("/v2/health/live").status_code == 200  # probes need no key


def test_503_when_no_version_is_ready(gateway, fake_caller) -> None:
    fake_caller.ready = set()
    client = gateway()
    response = client.post("/v2/models/iris/infer", json=OIP_BODY)
    assert (response.status_code, response.json()) == (503, {"error": "Model 'iris' has no ready version"})
    assert client.get("/v2/health/ready").status_code == 503
    assert client.get("/v2/models/iris/ready").json() == {"error": "Model 'iris' version '1' is not ready"}


def test_a_pinned_version_answering_infinity_is_a_json_500_counted_as_pinned(gateway, fake_caller, recorder) -> None:
    async def infinite_answer(app, features):
        return split_outputs(np.array([np.inf]), None, [1], "2", None)[0]

    fake_caller.predict = infinite_answer
    client = gateway()
    response = client.post("/v2/models/iris/versions/2/infer", json=OIP_BODY)
    assert (response.status_code, response.json(), response.headers["x-model-version"]) == (
        500,
        {"error": "Model 'iris' version '2' failed: returned a non-finite output (NaN or infinity)"},
        "2",
    )
    assert recorder.pinned == recorder.records == [("iris", "2", 500, False, None)]


def test_metadata_and_readiness(gateway) -> None:
    client = gateway()
    assert client.get("/v2").json() == {"name": "rayship", "version": "0.1.0", "extensions": ["binary_tensor_data"]}
    assert client.get("/v2/health/ready").status_code == 200
    metadata = client.get("/v2/models/iris")
    assert metadata.json() == {
        "name": "iris",
        "versions": ["1", "2"],
        "platform": "sklearn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 2]}],
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }
    assert metadata.headers["x-model-version"] == "1"
    assert client.get("/v2/models/iris/versions/2/ready").json() == {"name": "iris", "version": "2", "ready": True}


def test_stats_need_the_admin_token(gateway) -> None:
    client = gateway()
    assert client.get("/-/rayship/stats?model=iris").status_code == 401
    assert client.get("/-/rayship/stats?model=iris", headers={"authorization": "Bearer x"}).status_code == 403
    ok = client.get("/-/rayship/stats?model=iris", headers={"authorization": f"Bearer {ADMIN}"})
    assert ok.status_code == 200 and ok.json()["model"] == "iris"
    assert json.loads(client.get("/-/rayship/policy", headers={"authorization": f"Bearer {ADMIN}"}).text) == {
        "digest": "x"
    }


def test_the_monitoring_route_needs_the_admin_token_and_a_model(gateway) -> None:
    client = gateway()
    admin = {"authorization": f"Bearer {ADMIN}"}
    missing = client.get("/-/rayship/monitoring?model=iris")
    assert missing.status_code == 401
    assert missing.json() == {"error": "Missing admin token: send 'Authorization: Bearer <Ray cluster token>'"}
    assert client.get("/-/rayship/monitoring?model=iris", headers={"authorization": "Bearer x"}).status_code == 403
    unnamed = client.get("/-/rayship/monitoring", headers=admin)
    assert (unnamed.status_code, unnamed.json()) == (
        400,
        {"error": "Name the model: /-/rayship/monitoring?model=<name>"},
    )
    ok = client.get("/-/rayship/monitoring?model=iris", headers=admin)
    assert ok.status_code == 200 and ok.json()["model"] == "iris" and ok.json()["spec_source"] == "default"


def test_labels_join_on_the_oip_id_or_the_response_request_id_and_count_per_version(gateway) -> None:
    client = gateway()
    with_id = client.post("/v2/models/iris/infer", json={**OIP_BODY, "id": "order-17"})
    without = client.post("/v2/models/iris/versions/2/infer", json=OIP_BODY)
    labels = [
        {"request_id": "order-17", "label": 3.0},
        {"request_id": without.headers["x-request-id"], "label": [1.5]},
        {"request_id": "never-served", "label": 1},
    ]

    answer = client.post("/v2/models/iris/feedback", json={"labels": labels})
    again = client.post("/v2/models/iris/feedback", json={"labels": labels[:1]})

    assert with_id.headers["x-model-version"] == "1" and without.headers["x-model-version"] == "2"
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "unknown": 1, "expired": 0, "duplicate": 0, "mismatched": []}
    assert again.json()["duplicate"] == 1
    status = client.get("/-/rayship/monitoring?model=iris", headers={"authorization": f"Bearer {ADMIN}"}).json()
    assert {v: status["versions"][v]["labels_total"] for v in ("1", "2")} == {"1": 1, "2": 1}
    assert status["labels"]["accepted"] == 2 and status["labels"]["unknown"] == 1


def test_a_model_that_records_no_predictions_has_none_to_join(gateway, make_config) -> None:
    client = gateway(make_config(record_predictions=False))
    client.post("/v2/models/iris/infer", json={**OIP_BODY, "id": "order-18"})

    answer = client.post("/v2/models/iris/feedback", json={"labels": [{"request_id": "order-18", "label": 3.0}]})

    assert answer.json()["unknown"] == 1 and answer.json()["accepted"] == 0


def test_feedback_errors_name_the_item_and_field_and_keys_and_models_apply(gateway, make_config) -> None:
    client = gateway({**make_config(), "api_keys_env": "KEYS"}, environ={"KEYS": "k1"})
    key = {"x-api-key": "k1"}

    assert (
        client.post("/v2/models/iris/feedback", json={"labels": [{"request_id": "a", "label": 1}]}).status_code == 401
    )
    missing = client.post("/v2/models/iris/feedback", json={"labels": [{"request_id": "a"}]}, headers=key)
    assert (missing.status_code, missing.json()) == (400, {"error": "Feedback item 0: 'label' is missing"})
    unknown = client.post("/v2/models/ghost/feedback", json={"labels": []}, headers=key)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Model 'ghost' is not served by this gateway"})


def test_without_a_monitor_the_monitoring_route_answers_503(gateway) -> None:
    answer = gateway(monitoring=None).get(
        "/-/rayship/monitoring?model=iris", headers={"authorization": f"Bearer {ADMIN}"}
    )
    assert answer.status_code == 503
    assert answer.json() == {"error": "Model monitoring is not available on this gateway"}


def test_an_unexpected_error_answers_500_naming_its_type_and_is_logged_once(gateway, fake_caller, caplog) -> None:
    async def broken_metadata(app: str) -> None:
        raise TypeError("not for clients")

    fake_caller.metadata = broken_metadata
    response = gateway().get("/v2/models/iris/versions/2")  # the test client would re-raise what escaped the app
    assert (response.status_code, response.json()) == (500, {"error": "Internal error: TypeError"})
    assert (response.headers["x-model-version"], len(response.headers["x-request-id"])) == ("2", 32)
    logged = [record for record in caplog.records if record.exc_info]
    assert [record.getMessage() for record in logged] == ["unexpected error in the gateway"]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "message"),
    [
        (
            "/v2/models/iris/infer",
            b"[" * (1 << 20),
            "application/json",
            "The request body is not valid JSON: it nests arrays or objects too deeply",
        ),
        (
            "/models/iris/invocations",
            b"a,b\n" + b"1" * (200 * 1024) + b",2\n",
            "text/csv",
            "The CSV body cannot be read: field larger than field limit (131072)",
        ),
        (
            "/v2/models/iris/infer",
            json.dumps({"inputs": [{"name": "x", "shape": [10**20, 0], "datatype": "FP64", "data": []}]}).encode(),
            "application/json",
            "input 'x' cannot take shape [100000000000000000000, 0]",
        ),
    ],
)
def test_inputs_that_break_a_parser_are_a_400_naming_why(gateway, path, body, content_type, message) -> None:
    response = gateway().post(path, content=body, headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_a_version_that_is_no_header_value_still_gets_a_json_404(gateway) -> None:
    response = gateway().post("/v2/models/iris/versions/€/infer", json=OIP_BODY)
    assert (response.status_code, response.json()) == (404, {"error": "Model 'iris' has no version '€'"})
    assert response.headers["x-model-version"] == ""
