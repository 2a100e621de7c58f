"""What every framework trainer shares: the fit job it is given, validation scoring, and logging a fitted model.

A trainer keeps only its framework-specific parts: how to fit (and when it can report), how to predict class
probabilities, what its pyfunc returns, and which MLflow flavour (with which options) logs it.

MLflow (and skops) are imported only where a model is logged, never at import: trial actors import the trainers but
never log, and those imports cost a trial actor about 5 s of CPU on this machine, charged to its first trial.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from training.datasets import Splits
from training.scoring import score

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

# Called by trainers with (iteration, validation scores); iterative ones every `report_every` rounds/epochs.
ReportFn = Callable[[int, dict[str, float]], None]

# Rows of the training features logged as the model's input example (and used to infer its signature).
INPUT_EXAMPLE_ROWS = 3


class FitJob(BaseModel):
    """One fit: which estimator with which hyper-parameters on which data, and whom to report validation scores to."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    estimator: str = Field(description="Estimator family within the trainer's framework.")
    params: dict[str, Any] = Field(description="Hyper-parameters (fixed and sampled) of this fit.")
    splits: Splits = Field(description="Data: fit on the train split, report scores on the validation split.")
    seed: int = Field(description="Seed of the estimator's own randomness.")
    report: ReportFn | None = Field(None, description="Receives validation scores as the fit goes; None: silent.")
    report_every: int = Field(1, ge=1, description="Iterative trainers report every this many rounds/epochs.")

    def validation_scores(self, proba: np.ndarray) -> dict[str, float]:
        """Scores of class probabilities `proba` predicted for `splits.x_valid`: what trials are ranked by."""
        return score(self.splits.y_valid, proba, self.splits.classes)

    def report_step(self, step: int, predict_valid: Callable[[], np.ndarray]) -> None:
        """After round/epoch `step` (1-based), on every `report_every`-th one: report the scores of
        `predict_valid()` (class probabilities for `splits.x_valid`) as iteration `step // report_every`.

        `predict_valid` is only called when a report is due, so steps in between cost no prediction.
        """
        if self.report is not None and step % self.report_every == 0:
            self.report(step // self.report_every, self.validation_scores(predict_valid()))


class Trainer(ABC):
    """Fits one estimator family, predicts class probabilities, and logs a fitted model to MLflow."""

    framework: ClassVar[str]
    # What the logged model's pyfunc `predict` returns: "labels" or "probabilities".
    pyfunc_output: ClassVar[str]

    @abstractmethod
    def fit(self, job: FitJob) -> Any:
        """Fit on `job.splits.x_train`, reporting validation scores through `job` as the framework allows."""

    def predict_proba(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class in sorted label order (scikit-learn API by default)."""
        return model.predict_proba(features)

    def pyfunc_predict(self, model: Any, features: pd.DataFrame) -> Any:
        """What the logged model's pyfunc `predict` returns for `features`, its signature's output (labels from the
        scikit-learn API by default)."""
        return model.predict(features)

    @abstractmethod
    def log_flavour(self, model: Any, **logged: Any) -> ModelInfo:
        """`mlflow.<flavour>.log_model(model, **logged)` plus the flavour's own options (requirements, format)."""

    def log_model(self, model: Any, *, name: str, features: pd.DataFrame, metadata: dict[str, Any]) -> ModelInfo:
        """Log `model` with its native flavour, signature and input example into the active run."""
        from mlflow.models import infer_signature

        example = features.head(INPUT_EXAMPLE_ROWS)
        return self.log_flavour(
            model,
            name=name,
            signature=infer_signature(example, self.pyfunc_predict(model, example)),
            input_example=example,
            metadata=metadata,
        )
