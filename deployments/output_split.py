"""Splitting one vectorised prediction back into the requests that made up the batch (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deployments.types import Prediction


def split_outputs(
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    sizes: list[int],
    version: str,
    classes: list[Any] | None,
) -> list[Prediction]:
    """One `Prediction` per request, in order; `sizes` are the requests' row counts."""
    total = sum(sizes)
    if len(predictions) != total:
        raise ValueError(f"the model returned {len(predictions)} predictions for {total} rows")
    answers, start = [], 0
    batch_size = len(sizes)
    for size in sizes:
        stop = start + size
        answers.append(
            Prediction(
                version=version,
                predictions=np.asarray(predictions[start:stop]).tolist(),
                probabilities=probabilities[start:stop].tolist() if probabilities is not None else None,
                classes=classes,
                batch_size=batch_size,
            )
        )
        start = stop
    return answers
