"""The hand-written Serve graph: the gateway's job as a Ray Serve user would write it, in two deployments.

- `HandwrittenIngress`: a FastAPI app (`@serve.ingress`) on `POST /v2/models/{name}/infer` that reads a one-input
  OIP v2 JSON request, awaits the model deployment through a `DeploymentHandle` (one handle call per request) and
  answers an OIP v2 JSON response (`predict`, and `predict_proba` for a classifier, as the gateway answers).
- `HandwrittenModel`: the model, loaded as `direct_app.py` loads it (`load_model`: resolved, verified, rayship's
  predictor), predicting the requests that reach it together with `@serve.batch`.

Nothing else: no traffic policy, no validation against the model's schema, no metrics, no other protocol. So
gateway / this ratio is what rayship's layer costs against the same split into two deployments written by hand.
The parsing and encoding are plain functions (`parse_infer`, `predict_batch`, `encode_infer`).

Deployed by `bench_serving.py` with the repository on the replicas' PYTHONPATH: `bench.handwritten_graph_app:build_app`.
"""

# No `from __future__ import annotations`: under `@serve.ingress` FastAPI must resolve `request: Request` itself,
# and string annotations leave it a query parameter (422 on every call).
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from ray import serve
from ray.serve.handle import DeploymentHandle

from bench.direct_app import load_model

# As the gateway cuts a batch (`max_batch_size` 32, configs/serve.yaml) and as direct Serve waits for one
# (`direct_app.py`: 2 ms). The gateway sets no timer; Serve's default would wait 10 ms.
MAX_BATCH_SIZE = 32
BATCH_WAIT_TIMEOUT_S = 0.002
# numpy dtype kind -> OIP v2 datatype; anything else (strings, objects) goes as BYTES.
DATATYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}
_PINNED_URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<version>[0-9]+)$")

Run = Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray | None]]


def name_and_version(model_uri: str) -> tuple[str, str]:
    """`models:/bench-iris/1` -> ("bench-iris", "1"): what the ingress answers as `model_name` / `model_version`."""
    match = _PINNED_URI.match(model_uri)
    if match is None:
        raise ValueError(f"not a pinned model URI (models:/<name>/<N>): {model_uri!r}")
    return match["name"], match["version"]


def parse_infer(body: Any) -> np.ndarray:
    """The rows of a one-input OIP v2 request (`shape [N, F]`, `data` flat or nested); ValueError if it is not one."""
    try:
        tensor = body["inputs"][0]
        rows = np.asarray(tensor["data"], dtype=float).reshape(tensor["shape"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"not a one-input OIP v2 request of numbers: {exc}") from exc
    if rows.ndim != 2:
        raise ValueError(f"the input must have shape [N, F], not {list(rows.shape)}")
    return rows


def output_tensor(name: str, values: np.ndarray) -> dict:
    return {
        "name": name,
        "shape": list(values.shape),
        "datatype": DATATYPES.get(values.dtype.kind, "BYTES"),
        "data": values.reshape(-1).tolist(),
    }


def predict_batch(run: Run, requests: list[np.ndarray]) -> list[list[dict]]:
    """One model call for every request's rows, answered as each request's OIP v2 output tensors."""
    labels, probabilities = run(requests[0] if len(requests) == 1 else np.concatenate(requests), None)
    labels = np.asarray(labels)
    answers, start = [], 0
    for rows in requests:
        end = start + len(rows)
        outputs = [output_tensor("predict", labels[start:end])]
        if probabilities is not None:
            outputs.append(output_tensor("predict_proba", np.asarray(probabilities[start:end], dtype=float)))
        answers.append(outputs)
        start = end
    return answers


def encode_infer(name: str, version: str, outputs: list[dict], request_id: Any = None) -> dict:
    response = {"model_name": name, "model_version": version, "outputs": outputs}
    if request_id is not None:
        response["id"] = request_id
    return response


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=64)
class HandwrittenModel:
    def __init__(self, model_uri: str) -> None:
        self._model = load_model(model_uri)

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S)
    async def predict(self, requests: list[np.ndarray]) -> list[list[dict]]:
        return predict_batch(self._model.predictor.run, requests)


api = FastAPI()


# max_ongoing_requests as the gateway's (configs/serve.yaml) and the model's as a version replica's.
@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
@serve.ingress(api)
class HandwrittenIngress:
    def __init__(self, model: DeploymentHandle, model_uri: str) -> None:
        self._model = model
        self._name, self._version = name_and_version(model_uri)

    @api.post("/v2/models/{name}/infer")
    async def infer(self, name: str, request: Request) -> dict:
        if name != self._name:
            raise HTTPException(status_code=404, detail=f"model {name!r} not found")
        try:
            body = await request.json()  # a malformed body raises JSONDecodeError, a ValueError
            rows = parse_infer(body)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        outputs = await self._model.predict.remote(rows)
        return encode_infer(self._name, self._version, outputs, body.get("id"))


def build_app(args: dict):
    return HandwrittenIngress.bind(HandwrittenModel.bind(args["model_uri"]), args["model_uri"])
