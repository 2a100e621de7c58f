"""XGBoost's scikit-learn classifier, reporting validation scores every few boosting rounds (for ASHA)."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from training.datasets import Splits
from training.scoring import score
from training.trainers.base import ReportFn


class _ReportRounds(xgb.callback.TrainingCallback):
    """Scores the model on the validation split every `every` rounds and hands the scores to `report`."""

    def __init__(self, splits: Splits, report: ReportFn, every: int) -> None:
        super().__init__()
        self._splits, self._report, self._every = splits, report, every

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        rounds = epoch + 1
        if rounds % self._every == 0:
            proba = _as_class_proba(model.inplace_predict(self._splits.x_valid, iteration_range=(0, rounds)))
            self._report(rounds // self._every, score(self._splits.y_valid, proba, self._splits.classes))
        return False


def _as_class_proba(raw: np.ndarray) -> np.ndarray:
    """Binary objectives give P(class 1) as a vector; make it the two-column shape multi-class gives."""
    raw = np.asarray(raw)
    return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw


class XGBoostTrainer:
    """Trainer for `xgboost.XGBClassifier` (hist tree method, one thread)."""

    framework = "xgboost"
    pyfunc_output = "labels"

    def fit(
        self,
        estimator: str,
        params: dict[str, Any],
        splits: Splits,
        report: ReportFn | None,
        report_every: int,
        seed: int,
    ) -> Any:
        callbacks = [_ReportRounds(splits, report, report_every)] if report is not None else None
        model = xgb.XGBClassifier(
            tree_method="hist", n_jobs=1, random_state=seed, callbacks=callbacks, **{"n_estimators": 50, **params}
        )
        model.fit(splits.x_train, splits.y_train, verbose=False)
        model.set_params(callbacks=None)  # callbacks hold the data splits; do not pickle them with the model
        return model

    def predict_proba(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(features)

    def log_model(self, model: Any, *, name: str, features: pd.DataFrame, metadata: dict[str, Any]) -> ModelInfo:
        example = features.head(3)
        return mlflow.xgboost.log_model(
            model,
            name=name,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=[
                f"xgboost=={xgb.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"mlflow=={mlflow.__version__}",
            ],
            metadata=metadata,
        )
