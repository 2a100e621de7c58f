"""Splitting one vectorised prediction back into the requests that made up the batch (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deployments.types import Prediction, VersionError

# The gateway turns a 5xx `VersionError` into "Model '<model>' version '<version>' failed: <message>"
# (`deployments.dataplane`), so the message is the reason alone.
NON_FINITE_OUTPUT = "returned a non-finite output (NaN or infinity)"


def split_outputs(
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    sizes: list[int],
    version: str,
    classes: list[Any] | None,
) -> list[Prediction | VersionError]:
    """One answer per request, in order; `sizes` are the requests' row counts. A request whose predictions or
    probabilities hold NaN or +-inf gets a 500 `VersionError` (the version's failure, counted as its 5xx), never a
    200 with numbers no caller can use."""
    total = sum(sizes)
    if len(predictions) != total:
        raise ValueError(f"the model returned {len(predictions)} predictions for {total} rows")
    finite = finite_rows(predictions)
    if probabilities is not None:
        finite &= finite_rows(probabilities)
    answers: list[Prediction | VersionError] = []
    start, batch_size = 0, len(sizes)
    for size in sizes:
        stop = start + size
        if not finite[start:stop].all():
            answers.append(VersionError(500, NON_FINITE_OUTPUT))
        else:
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


def finite_rows(values: np.ndarray) -> np.ndarray:
    """Per row, whether every number in it is finite. Only floating and complex numbers can be NaN or infinite;
    labels (integers, strings, objects) are taken as they are, so checking costs nothing for them."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.inexact):
        return np.ones(len(values), dtype=bool)
    return np.isfinite(values).all(axis=tuple(range(1, values.ndim)))
