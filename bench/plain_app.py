"""The baseline: one uvicorn process, one FastAPI route, one predict call per request (no batching, no Serve).

Run by `bench_serving.py` as `uvicorn bench.plain_app:app --app-dir .`; the verified model directory comes from
`RAYSHIP_BENCH_MODEL_DIR`, and how the model is called from `RAYSHIP_BENCH_BASELINE` (`framework`, the default:
the estimator's own `predict`; or `rayship`: rayship's predictor; see `baseline_model.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request

from bench.baseline_model import load_baseline

predict_rows = load_baseline(
    Path(os.environ["RAYSHIP_BENCH_MODEL_DIR"]), os.environ.get("RAYSHIP_BENCH_BASELINE", "framework")
)
app = FastAPI()


@app.post("/v1/models/{model}:predict")
async def predict(model: str, request: Request) -> dict:
    rows = np.asarray((await request.json())["instances"], dtype=float)
    return {"predictions": predict_rows(rows).tolist()}
