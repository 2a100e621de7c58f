"""The gateway and version apps on the real local Ray cluster and MLflow server, deployed like `serve deploy`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import mlflow

from deployments.gateway.app import policy_digest
from deployments.traffic_policy import GatewayConfig
from registry import tags

MODEL = "iris-serving"  # the model the `two_versions` fixture registers
ROW = [5.1, 3.5, 1.4, 0.2]
JSON = {"content-type": "application/json"}
NOT_JSON = (
    "The request body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
)
API_KEY = {"x-api-key": "key-1"}  # ignored while the policy names no api_keys_env


def predict(client: httpx.Client, model: str = MODEL, **kwargs: object) -> httpx.Response:
    return client.post(f"/v1/models/{model}:predict", json={"instances": [ROW]}, **kwargs)


def test_a_90_10_split_labels_every_answer_with_its_version(serve_api, two_versions, baseline) -> None:
    v1, v2 = two_versions
    answers = Counter()
    for _ in range(600):
        response = serve_api.http.post(
            f"/v2/models/{MODEL}/infer",
            json={"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]},
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-model-version"] == response.json()["model_version"]
        assert response.headers["x-request-id"]
        answers[response.json()["model_version"]] += 1
    share = answers[v2.version] / 600
    assert set(answers) == {v1.version, v2.version}
    assert abs(share - 0.10) < 0.05, answers


def test_weight_and_batching_changes_restart_no_replica(serve_api, two_versions, baseline) -> None:
    v1, v2 = two_versions
    apps, config = baseline
    before = serve_api.replica_actor_ids()
    serve_api.apply(apps, serve_api.with_ghost(serve_api.weights((v1, 0), (v2, 100))))
    assert {predict(serve_api.http).headers["x-model-version"] for _ in range(20)} == {v2.version}
    rebatched = [
        {**app, "deployments": [{**app["deployments"][0], "user_config": {"max_batch_size": 4}}]} for app in apps
    ]
    serve_api.apply(rebatched, config)
    assert predict(serve_api.http).status_code == 200
    serve_api.apply(apps, config)
    after = serve_api.replica_actor_ids()
    assert after == before
    assert all(after[name] for name in ("gateway", apps[0]["name"], apps[1]["name"]))


def test_an_invalid_policy_is_rejected_and_the_previous_one_keeps_serving(serve_api, baseline) -> None:
    apps, config = baseline
    before = serve_api.replica_actor_ids()["gateway"]
    invalid = {**config, "models": {**config["models"], MODEL: {**config["models"][MODEL], "champion": "999"}}}
    serve_api.deploy(serve_api.config(apps, invalid))
    serve_api.wait(lambda _: serve_api.policy().get("last_rejection") is not None, "the rejection")
    view = serve_api.policy()
    assert "champion '999' is not one of the versions" in view["last_rejection"]
    assert view["policy_digest"] == policy_digest(GatewayConfig.model_validate(config))
    assert predict(serve_api.http).status_code == 200
    serve_api.apply(apps, config)
    assert serve_api.policy()["last_rejection"] is None
    assert serve_api.replica_actor_ids()["gateway"] == before


def test_the_bad_input_table(serve_api, two_versions, baseline) -> None:
    v1, _ = two_versions
    apps, config = baseline
    http = serve_api.http
    cases = [
        (http.post(f"/v2/models/{MODEL}/infer", content=b"{oops", headers=JSON), 400, NOT_JSON),
        (http.post(f"/v2/models/{MODEL}/versions/{v1.version}/infer",
                   json={"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}), 400,
         f"Model '{MODEL}' version '{v1.version}' expects 4 features, got 3"),
        (http.post(f"/v2/models/{MODEL}/infer",
                   json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ["a", "b", "c", "d"]}]}),
         400, "input 'x' data does not match datatype FP64"),
        (predict(http, "nope"), 404, "Model 'nope' is not served by this gateway"),
        (http.post(f"/v2/models/{MODEL}/versions/999/infer", json={"inputs": []}), 404,
         f"Model '{MODEL}' has no version '999'"),
        (http.get(f"/v1/models/{MODEL}:predict"), 405, f"Method GET is not allowed for '/v1/models/{MODEL}:predict'"),
        (http.post(f"/v1/models/{MODEL}:predict", content=b"[" + b"1," * 600_000 + b"1]", headers=JSON), 413,
         "Request body exceeds the limit of 1048576 bytes"),
        (http.post(f"/models/{MODEL}/invocations", content=b"x", headers={"content-type": "text/plain"}), 415,
         "Unsupported content type 'text/plain'; send one of: application/json, text/csv"),
        (predict(http, "ghost"), 503, "Model 'ghost' has no ready version"),
    ]  # fmt: skip
    for response, status, error in cases:
        assert (response.status_code, response.json()) == (status, {"error": error})
        assert "x-model-version" in response.headers and response.headers["x-request-id"]

    serve_api.apply(apps, {**config, "api_keys_env": "RAYSHIP_TEST_API_KEYS"})
    try:
        missing, wrong = predict(http), predict(http, headers={"authorization": "Bearer key-3"})
        assert (missing.status_code, wrong.status_code, wrong.json()) == (
            401,
            403,
            {"error": "The API key is not valid"},
        )
        assert predict(http, headers={"x-api-key": "key-2"}).status_code == 200
    finally:
        serve_api.apply(apps, config)


def test_adding_and_removing_a_version_under_load_fails_no_request(serve_api, two_versions, baseline) -> None:
    v1, v2 = two_versions
    only_v1 = [serve_api.version_app(v1)]
    serve_api.apply(only_v1, serve_api.weights((v1, 100)))
    with serve_api.steady_load() as (statuses, versions):
        both = [serve_api.version_app(v1), serve_api.version_app(v2)]
        serve_api.apply(both, serve_api.weights((v1, 100), (v2, 0)))  # phase 1: the new app, at weight 0
        serve_api.apply(both, serve_api.weights((v1, 50), (v2, 50)))  # phase 2: shift weights
        serve_api.wait(lambda _: versions[v2.version] >= 20, "traffic on the new version", timeout_s=120)
        serve_api.apply(both, serve_api.weights((v1, 100), (v2, 0)))  # drain the version before removing its app
        serve_api.apply(only_v1, serve_api.weights((v1, 100)))
        serve_api.wait(lambda apps: f"{MODEL}-v{v2.version}" not in apps, "the version app to go")
    assert statuses == Counter({200: statuses[200]}) and statuses[200] > 0, statuses
    assert versions[v2.version] >= 20


def test_stats_are_fresh_per_version_and_need_the_admin_token(serve_api, two_versions, baseline) -> None:
    apps, config = baseline
    serve_api.apply(apps, config)
    for _ in range(30):
        assert predict(serve_api.http).status_code == 200
    assert serve_api.http.get(f"/-/rayship/stats?model={MODEL}").status_code == 401

    def counted(_: dict) -> bool:
        stats = serve_api.http.get(f"/-/rayship/stats?model={MODEL}", headers=serve_api.admin).json()
        return sum(v["requests"] for v in stats["versions"].values()) >= 30

    serve_api.wait(counted, "the stats to include the requests", timeout_s=30)
    stats = serve_api.http.get(f"/-/rayship/stats?model={MODEL}", headers=serve_api.admin).json()
    assert stats["collected_at"] - stats["oldest_push_at"] <= 2.5
    assert stats["policy_digests"] == [policy_digest(GatewayConfig.model_validate(config))]
    for version in stats["versions"].values():
        assert version["latency_ms"]["count"] <= version["requests"]


def test_a_tampered_artifact_is_refused_and_the_others_keep_serving(serve_api, cluster, baseline) -> None:
    apps, config = baseline
    tampered = serve_api.train()
    client = mlflow.MlflowClient()
    model_id = client.get_model_version(tampered.name, tampered.version).tags[tags.LOGGED_MODEL_ID]
    location = client.get_logged_model(model_id).artifact_location
    model_dir = Path(cluster.state_dir) / "mlflow-artifacts" / location.split("mlflow-artifacts:/", 1)[1]
    with (model_dir / "model.pkl").open("ab") as pickle_file:
        pickle_file.write(b"\0")
    name = f"{MODEL}-v{tampered.version}"
    serve_api.deploy(serve_api.config([*apps, serve_api.version_app(tampered)], config))
    try:
        failed = serve_api.wait(
            lambda a: a.get(name, {}).get("status") == "DEPLOY_FAILED", "the tampered deploy to fail"
        )
        message = failed[name]["deployments"]["ModelVersion"]["message"]
        assert f"Model {MODEL}/{tampered.version} failed digest verification: model.pkl" in message, message
        assert predict(serve_api.http).status_code == 200
    finally:
        serve_api.apply(apps, config)
