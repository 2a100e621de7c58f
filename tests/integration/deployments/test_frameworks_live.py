"""The session's scikit-learn (iris), XGBoost (breast cancer) and PyTorch (wine) sweep winners, served live side by
side behind one gateway, answer every HTTP protocol exactly as their registered MLflow models predict.

The winners come from `framework_winner` (tests/integration/conftest.py): the same sweeps the training tests check,
run once per session. Everything else is real: the shared local Ray cluster, its MLflow server, `serve deploy`'s
REST API.

Reuse (binary tensors, gRPC): `served_frameworks` deploys the three models and gives what each was sent and what it
must answer; `PROTOCOLS` lists the HTTP protocols `predict_all_protocols` exercises - add a `Protocol` there for
another HTTP encoding, or call the gateway your own way (tritonclient, gRPC) with `served_frameworks`' rows and
compare with its `expected`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

from deployments import app_config
from registry.api import PinnedVersion, download_verified
from registry.model_facts import read_model_facts
from tests.integration.sweeps import FRAMEWORK_CONFIGS, FrameworkWinner
from training.datasets import load_table

# Setting up the first test runs up to three sweeps (none if the training tests ran them first) and one deploy.
pytestmark = pytest.mark.timeout(1800)

FLAVORS = tuple(FRAMEWORK_CONFIGS)  # sklearn, xgboost, pytorch
ROWS_PER_CLASS = 2
# Served probabilities are the native model's, batched as sent; float32 models (XGBoost, PyTorch) may differ from a
# local call in the last bits.
PROBABILITY_ATOL = 1e-5


class Expected(NamedTuple):
    """What the registered model itself says for the rows (its MLflow pyfunc, loaded from the verified download)."""

    labels: list[Any]  # one class label per row
    probabilities: np.ndarray | None  # rows x classes, in `classes` order; None for a model without probabilities
    classes: list[Any]  # the model's class labels (its MLmodel metadata)


class ServedFramework(NamedTuple):
    """One deployed framework model; unpacks as `(model, version, rows, expected)`."""

    model: str  # the registered (and served) model name
    version: str  # the deployed version: what `x-model-version` must say
    rows: pd.DataFrame  # feature rows from its dataset, columns named and in the signature's order
    expected: Expected


def policy_for(versions: Iterable[PinnedVersion]) -> dict:
    """The gateway policy serving each model from its one version at 100 %."""
    models = {}
    for pinned in versions:
        app = app_config.version_app_name(pinned.name, pinned.version)
        models[pinned.name] = {
            "versions": [{"version": pinned.version, "app": app, "weight": 100}],
            "champion": pinned.version,
        }
    return {"models": models}


def dataset_rows(winner: FrameworkWinner) -> pd.DataFrame:
    """The first `ROWS_PER_CLASS` rows of every class of the winner's dataset."""
    table = load_table(winner.spec.dataset)
    picked = table.target.groupby(table.target).head(ROWS_PER_CLASS).index
    return table.features.loc[picked]


def expected_answers(winner: FrameworkWinner, rows: pd.DataFrame, target: Path) -> Expected:
    model_dir = download_verified(winner.pinned, target)
    facts = read_model_facts(model_dir)
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    output = np.asarray(pyfunc.predict(rows))
    if facts.pyfunc_output == "probabilities":  # the PyTorch MLP ends in softmax
        return Expected(np.asarray(facts.classes)[np.argmax(output, axis=1)].tolist(), output, facts.classes)
    native = pyfunc.get_raw_model()
    probabilities = np.asarray(native.predict_proba(rows)) if hasattr(native, "predict_proba") else None
    return Expected(output.tolist(), probabilities, facts.classes)


@pytest.fixture(scope="module")
def served_frameworks(serve_api, framework_winner, tmp_path_factory) -> dict[str, ServedFramework]:
    """The three framework winners deployed in ONE deploy (a version app each, 0.1 CPU and one replica, plus the
    gateway naming the three models), as `{flavor: ServedFramework(model, version, rows, expected)}` for flavor in
    `FLAVORS`:

    - `model` (str): the registered model name, the `{model}` of every gateway route;
    - `version` (str): its deployed, pinned version (what `x-model-version` and OIP `model_version` must say);
    - `rows` (DataFrame): `ROWS_PER_CLASS` rows of every class of its dataset, float64, columns named as the
      model's signature and in its order;
    - `expected` (`Expected`): `labels` (list, one per row), `probabilities` (ndarray rows x classes, or None),
      `classes` (list) - what `mlflow.pyfunc.load_model` of the verified download says for `rows`.

    Module-scoped: every deploy replaces all of Serve's applications, so another module deploys its own; the sweeps
    behind it run once per session whichever module asks first."""
    winners = {flavor: framework_winner(flavor) for flavor in FLAVORS}
    downloads = tmp_path_factory.mktemp("framework-models")
    served = {}
    for flavor, winner in winners.items():
        rows = dataset_rows(winner)
        expected = expected_answers(winner, rows, downloads / flavor)
        served[flavor] = ServedFramework(winner.pinned.name, winner.pinned.version, rows, expected)
    apps = [serve_api.version_app(winner.pinned) for winner in winners.values()]
    serve_api.apply(apps, policy_for(winner.pinned for winner in winners.values()))
    return served


# ---- every HTTP protocol: where later protocols (binary tensors, ...) plug in -----------------------------------

Answer = tuple[list[Any], np.ndarray | None]  # labels, and probabilities when the protocol carries them


@dataclass(frozen=True)
class Protocol:
    """One way to ask the gateway for predictions of `served.rows` and read the labels (and probabilities) back."""

    name: str
    request: Callable[[ServedFramework], dict[str, Any]]  # keyword arguments of `httpx.Client.post`
    answer: Callable[[ServedFramework, dict[str, Any]], Answer]  # from the response's JSON


def oip_matrix(served: ServedFramework, pinned: bool = False) -> dict[str, Any]:
    """One 2-D FP64 input, positional (row-major)."""
    rows = served.rows.to_numpy()
    tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
    path = f"/versions/{served.version}/infer" if pinned else "/infer"
    return {"url": f"/v2/models/{served.model}{path}", "json": {"inputs": [tensor]}}


def oip_columns(served: ServedFramework) -> dict[str, Any]:
    """One [N] FP64 input per named column, in reverse order: the gateway must match them by name."""
    n = len(served.rows)
    inputs = [
        {"name": column, "shape": [n], "datatype": "FP64", "data": served.rows[column].tolist()}
        for column in reversed(served.rows.columns)
    ]
    return {"url": f"/v2/models/{served.model}/infer", "json": {"inputs": inputs}}


def oip_answer(served: ServedFramework, body: dict[str, Any]) -> Answer:
    assert (body["model_name"], body["model_version"]) == (served.model, served.version)
    outputs = {output["name"]: output for output in body["outputs"]}
    n, classes = len(served.rows), len(served.expected.classes)
    has_proba = served.expected.probabilities is not None
    assert list(outputs) == (["predict", "predict_proba"] if has_proba else ["predict"])
    predict = outputs["predict"]
    assert (predict["shape"], predict["datatype"]) == ([n], "INT64")
    if not has_proba:
        return predict["data"], None
    proba = outputs["predict_proba"]
    assert (proba["shape"], proba["datatype"]) == ([n, classes], "FP64")
    return predict["data"], np.asarray(proba["data"]).reshape(n, classes)


def kserve_v1_rows(served: ServedFramework) -> dict[str, Any]:
    return {"url": f"/v1/models/{served.model}:predict", "json": {"instances": served.rows.to_numpy().tolist()}}


def kserve_v1_records(served: ServedFramework) -> dict[str, Any]:
    """Records whose keys run in reverse column order."""
    columns = list(reversed(served.rows.columns))
    return {"url": f"/v1/models/{served.model}:predict", "json": {"instances": served.rows[columns].to_dict("records")}}


def mlflow_split(served: ServedFramework) -> dict[str, Any]:
    """`dataframe_split` with the columns in reverse order."""
    columns = list(reversed(served.rows.columns))
    split = {"columns": columns, "data": served.rows[columns].to_numpy().tolist()}
    return {"url": f"/models/{served.model}/invocations", "json": {"dataframe_split": split}}


def mlflow_csv(served: ServedFramework) -> dict[str, Any]:
    return {
        "url": f"/models/{served.model}/invocations",
        "content": served.rows.to_csv(index=False).encode(),
        "headers": {"content-type": "text/csv"},
    }


def predictions_only(served: ServedFramework, body: dict[str, Any]) -> Answer:
    assert list(body) == ["predictions"]
    return body["predictions"], None


PROTOCOLS = (
    Protocol("oip-v2 2-D input", oip_matrix, oip_answer),
    Protocol("oip-v2 2-D input, pinned version", lambda served: oip_matrix(served, pinned=True), oip_answer),
    Protocol("oip-v2 one input per column", oip_columns, oip_answer),
    Protocol("kserve-v1 rows", kserve_v1_rows, predictions_only),
    Protocol("kserve-v1 records", kserve_v1_records, predictions_only),
    Protocol("mlflow dataframe_split", mlflow_split, predictions_only),
    Protocol("mlflow csv", mlflow_csv, predictions_only),
)


def predict_all_protocols(http: httpx.Client, served: ServedFramework) -> dict[str, tuple[httpx.Response, Answer]]:
    """Every protocol's request for `served.rows`: `{protocol name: (response, (labels, probabilities))}`.

    Each response must be a 200 naming the served version in `x-model-version`; then the protocol reads its answer
    (and checks the OIP response's names, shapes and datatypes)."""
    answers = {}
    for protocol in PROTOCOLS:
        response = http.post(**protocol.request(served))
        assert response.status_code == 200, (protocol.name, response.text)
        assert response.headers["x-model-version"] == served.version, protocol.name
        answers[protocol.name] = (response, protocol.answer(served, response.json()))
    return answers


# ---- the tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_every_protocol_answers_what_the_registered_model_predicts(serve_api, served_frameworks, flavor) -> None:
    served = served_frameworks[flavor]
    expected = served.expected
    assert len(set(expected.labels)) > 1  # the rows span classes: a constant answer could not pass
    assert expected.probabilities is not None  # all three winners are classifiers with probabilities
    answers = predict_all_protocols(serve_api.http, served)
    assert list(answers) == [protocol.name for protocol in PROTOCOLS]
    for name, (_, (labels, probabilities)) in answers.items():
        assert labels == expected.labels, name
        if name.startswith("oip-v2"):
            assert probabilities.shape == expected.probabilities.shape, name
            assert np.allclose(probabilities, expected.probabilities, rtol=0, atol=PROBABILITY_ATOL), name
            assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5), name


@pytest.mark.parametrize("flavor", FLAVORS)
def test_metadata_names_the_flavour_and_the_signatures_columns(serve_api, served_frameworks, flavor) -> None:
    served = served_frameworks[flavor]
    response = serve_api.http.get(f"/v2/models/{served.model}")
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == served.version
    assert response.json() == {
        "name": served.model,
        "versions": [served.version],
        "platform": flavor,
        "inputs": [{"name": column, "datatype": "FP64", "shape": [-1]} for column in served.rows.columns],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(served.expected.classes)]},
        ],
    }


def test_the_three_models_are_served_side_by_side_from_one_deploy(serve_api, served_frameworks) -> None:
    apps = serve_api.applications()
    names = {app_config.version_app_name(served.model, served.version) for served in served_frameworks.values()}
    assert set(apps) == {app_config.GATEWAY_APP, *names}
    assert all(apps[name]["status"] == "RUNNING" for name in apps)
    policy = serve_api.policy()["policy"]["models"]
    assert set(policy) == {served.model for served in served_frameworks.values()}


# ---- real OIP clients, HTTP and gRPC, with their default settings ------------------------------------------------

CLIENTS_PYTHON = Path(__file__).resolve().parents[3] / ".venv-clients" / "bin" / "python"
CLIENTS_SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "oip_clients.py"
# Clients send FP32 (tritonclient's and KServe's usual input type): probabilities may differ in the last float32 bits.
FP32_ATOL = 1e-4
OIP_CLIENTS = ("triton_http", "triton_grpc", "kserve_rest_v2", "kserve_grpc")


def run_client(client: str, serve_api, served_frameworks: dict[str, ServedFramework]) -> dict[str, Any]:
    if not CLIENTS_PYTHON.exists():
        pytest.fail(f"{CLIENTS_PYTHON} is missing: `make clients` installs tritonclient and the KServe SDK there")
    requests = {served.model: served.rows.to_numpy().tolist() for served in served_frameworks.values()}
    command = [
        str(CLIENTS_PYTHON),
        str(CLIENTS_SCRIPT),
        client,
        "--http",
        serve_api.http_address,
        "--grpc",
        serve_api.grpc_address,
        "--requests",
        json.dumps(requests),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("client", OIP_CLIENTS)
def test_tritonclient_and_the_kserve_sdk_get_every_models_answer(serve_api, served_frameworks, client) -> None:
    """tritonclient.http (binary tensor extension), tritonclient.grpc and the KServe SDK's REST v2 and gRPC clients,
    each with its default settings, on the gateway's HTTP and gRPC ingress."""
    answers = run_client(client, serve_api, served_frameworks)
    for served in served_frameworks.values():
        answer = answers[served.model]
        assert "error" not in answer, answer
        assert answer["version"] == served.version
        assert answer["predict"] == served.expected.labels
        probabilities = np.asarray(answer["predict_proba"])
        assert np.allclose(probabilities, served.expected.probabilities, rtol=0, atol=FP32_ATOL)
    if client.startswith("triton"):  # tritonclient also read each model's metadata
        assert [answers[s.model]["platform"] for s in served_frameworks.values()] == list(served_frameworks)


def test_the_kserve_sdks_v1_client_gets_every_models_labels(serve_api, served_frameworks) -> None:
    answers = run_client("kserve_rest_v1", serve_api, served_frameworks)
    for served in served_frameworks.values():
        assert answers[served.model] == {"version": served.version, "predict": served.expected.labels}
