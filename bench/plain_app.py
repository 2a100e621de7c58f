"""The baseline: one uvicorn process, one FastAPI route, one predict call per request (no batching, no Serve).

Run by `bench_serving.py` as `uvicorn plain_app:app --app-dir bench`; the verified model directory comes from
`RAYSHIP_BENCH_MODEL_DIR`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from mlflow.models import Model

from deployments.predictors import load_predictor

MODEL_DIR = Path(os.environ["RAYSHIP_BENCH_MODEL_DIR"])
predictor = load_predictor(MODEL_DIR, Model.load(str(MODEL_DIR)).flavors)
app = FastAPI()


@app.post("/v1/models/{model}:predict")
async def predict(model: str, request: Request) -> dict:
    rows = np.asarray((await request.json())["instances"], dtype=float)
    predictions, _ = predictor.run(rows, None)
    return {"predictions": predictions.tolist()}
