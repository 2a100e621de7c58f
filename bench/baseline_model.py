"""The model as the baselines call it: through its own framework's API (what a plain app would do), or through
rayship's predictor (`deployments.predictors`, whose fast paths the gateway and direct Serve use too).

Both return `predict(rows) -> labels or values`; shared by the in-process loop and the plain FastAPI app.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
BASELINES = ("framework", "rayship")


def load_baseline(model_dir: Path, baseline: str) -> Predict:
    """`framework`: the estimator MLflow loads, its own `predict` (scikit-learn, XGBoost); a model without one
    (PyTorch) falls back to rayship's predictor. `rayship`: rayship's predictor."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline '{baseline}'; use one of {', '.join(BASELINES)}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # as every serving process runs
    if baseline == "framework":
        import mlflow.pyfunc

        raw = mlflow.pyfunc.load_model(str(model_dir)).get_raw_model()
        if callable(getattr(raw, "predict", None)):
            return raw.predict
    from mlflow.models import Model

    from deployments.predictors import load_predictor

    predictor = load_predictor(model_dir, Model.load(str(model_dir)).flavors)
    return lambda rows: predictor.run(rows, None)[0]
