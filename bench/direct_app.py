"""The "direct Serve" baseline: one Serve deployment with an HTTP route, batching, no gateway in front.

Deployed by `bench_serving.py` with `bench/` on the replicas' PYTHONPATH, so the import path is
`direct_app:build_app`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from ray import serve
from starlette.requests import Request

from deployments.version_app import VersionAppArgs, load_version


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=64)
class Direct:
    def __init__(self, model_uri: str) -> None:
        self._model = load_version(VersionAppArgs(model_uri=model_uri), Path(tempfile.mkdtemp(prefix="rayship-bench-")))

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


def build_app(args: dict):
    return Direct.bind(args["model_uri"])
