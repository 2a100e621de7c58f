"""The two "direct Serve" baselines: one Serve deployment with an HTTP route and batching, no gateway in front.

- `Direct` (`build_app`): the least a Serve app can do - read KServe v1 `instances`, batch, predict, answer.
  No validation, no metrics, no other protocol.
- `DirectProtocols` (`build_protocols_app`): rayship's own HTTP layer and data plane (the gateway's routes,
  codecs, validation, error mapping and per-version metrics) with the one version predicted in this replica.
  It is the gateway minus the split into a gateway app and version apps, so gateway / this ratio is what the split
  costs (a Serve handle call per batch and a second process per request).

Deployed by `bench_serving.py` with the repository on the replicas' PYTHONPATH, so the import paths are
`bench.direct_app:build_app` and `bench.direct_app:build_protocols_app`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from ray import serve
from starlette.requests import Request

from bench.serve_admin import policy_of
from deployments.dataplane import DataPlane
from deployments.gateway.prometheus import PrometheusRecorder
from deployments.gateway.rest.app import create_app
from deployments.metrics import CounterStore, FanOutRecorder
from deployments.stats import ModelStats
from deployments.traffic_policy import GatewayConfig
from deployments.types import Features, ModelMetadata, Prediction, VersionError
from deployments.version_app import VersionAppArgs, VersionPredictor, load_version


def load_model(model_uri: str):
    """The version loaded as a version replica loads it: resolved, verified, rayship's fastest predictor."""
    return load_version(VersionAppArgs(model_uri=model_uri), Path(tempfile.mkdtemp(prefix="rayship-bench-")))


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=64)
class Direct:
    def __init__(self, model_uri: str) -> None:
        self._model = load_model(model_uri)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _batch(self, requests: list[np.ndarray]) -> list[list]:
        predictions, _ = self._model.predictor.run(np.concatenate(requests), None)
        answers, start = [], 0
        for rows in requests:
            answers.append(predictions[start : start + len(rows)].tolist())
            start += len(rows)
        return answers

    async def __call__(self, request: Request) -> dict:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        return {"predictions": await self._batch(rows)}


class _NoSizes:
    def observe(self, value: float) -> None:
        """The data plane records each request's batch size already."""


class _InProcessVersion:
    """The data plane's `VersionCaller` for one version loaded in this replica: a batched local call, no hop."""

    def __init__(self, app: str, metadata: ModelMetadata, predict_batch) -> None:
        self._app, self._metadata, self._predict_batch = app, metadata, predict_batch

    def is_ready(self, app: str) -> bool:
        return app == self._app

    async def predict(self, app: str, features: Features) -> Prediction | VersionError:
        return await self._predict_batch(features)

    async def metadata(self, app: str) -> ModelMetadata:
        return self._metadata


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
@serve.ingress()
class DirectProtocols:
    def __init__(self, model_uri: str) -> None:
        model = load_model(model_uri)
        self._predictor = VersionPredictor(model, _NoSizes())
        policy = GatewayConfig.model_validate(policy_of(model.name, [(model.version, 100)]))
        app = policy.models[model.name].versions[0].app
        self._plane = DataPlane(
            _InProcessVersion(app, model.metadata, self._predict_batch),
            FanOutRecorder(CounterStore(), PrometheusRecorder()),
            policy,
        )

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _predict_batch(self, batch: list[Features]) -> list[Prediction | VersionError]:
        return self._predictor.predict_many(batch)

    def __serve_build_asgi_app__(self):
        # No admin token: the stats and policy routes refuse before either callable is reached.
        return create_app(self._plane, None, _no_stats, lambda: {}, os.environ, stamp_request_id=False)


async def _no_stats(model: str) -> ModelStats:
    raise NotImplementedError("the baseline keeps no aggregated stats")


def build_app(args: dict):
    return Direct.bind(args["model_uri"])


def build_protocols_app(args: dict):
    return DirectProtocols.bind(args["model_uri"])
