"""The interface every framework trainer implements, and what a fitted model carries to MLflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd
from mlflow.models.model import ModelInfo

from training.datasets import Splits

# Called by iterative trainers every `report_every` rounds/epochs with (iteration, validation scores).
ReportFn = Callable[[int, dict[str, float]], None]


class Trainer(Protocol):
    """Fits one estimator family, predicts class probabilities, and logs a fitted model to MLflow."""

    framework: str
    pyfunc_output: str

    def fit(
        self,
        estimator: str,
        params: dict[str, Any],
        splits: Splits,
        report: ReportFn | None,
        report_every: int,
        seed: int,
    ) -> Any:
        """Fit on `splits.x_train`; iterative trainers call `report` with validation scores as they go."""
        ...

    def predict_proba(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class in sorted label order."""
        ...

    def log_model(self, model: Any, *, name: str, features: pd.DataFrame, metadata: dict[str, Any]) -> ModelInfo:
        """Log `model` with its native flavour, signature and input example into the active run."""
        ...
