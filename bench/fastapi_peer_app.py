"""The hand-written peer: one uvicorn process, OIP v2 inference for both reference models, no batching.

What a user would write without a serving framework: parse the JSON, reshape, `predict_proba`, answer the class.
Run by `bench/peers/fastapi_peer.py` as `uvicorn bench.fastapi_peer_app:app`; the fitted models come from the
cache folder named by `RAYSHIP_PEER_CACHE_DIR` (written by `bench.reference_models`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request

from bench.reference_models import load_reference_models

CACHE_DIR = Path(os.environ["RAYSHIP_PEER_CACHE_DIR"])
MODELS = {name: model.estimator for name, model in load_reference_models(CACHE_DIR).items()}
app = FastAPI()


def model_of(name: str):
    if name not in MODELS:
        raise HTTPException(status_code=404, detail=f"model {name!r} not found")
    return MODELS[name]


@app.get("/v2/health/ready")
async def ready() -> dict:
    return {"ready": True}


@app.get("/v2/models/{name}/ready")
async def model_ready(name: str) -> dict:
    model_of(name)
    return {"name": name, "ready": True}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> dict:
    model = model_of(name)
    first = (await request.json())["inputs"][0]
    rows = np.asarray(first["data"], dtype=float).reshape(first["shape"])
    classes = model.classes_[model.predict_proba(rows).argmax(axis=1)]
    output = {"name": "predict", "shape": [len(classes)], "datatype": "INT64", "data": classes.tolist()}
    return {"model_name": name, "outputs": [output]}
