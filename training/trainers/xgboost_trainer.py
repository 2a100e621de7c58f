"""XGBoost's scikit-learn classifier, reporting validation scores every few boosting rounds (for ASHA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn
import xgboost as xgb

from training.trainers.base import FitJob, Trainer

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo


class _ReportRounds(xgb.callback.TrainingCallback):
    """Hands the validation probabilities of the first `rounds` trees to `job.report_step` after every round."""

    def __init__(self, job: FitJob) -> None:
        super().__init__()
        self._job = job

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        rounds = epoch + 1
        x_valid = self._job.splits.x_valid
        self._job.report_step(
            rounds, lambda: _as_class_proba(model.inplace_predict(x_valid, iteration_range=(0, rounds)))
        )
        return False


def _as_class_proba(raw: np.ndarray) -> np.ndarray:
    """Binary objectives give P(class 1) as a vector; make it the two-column shape multi-class gives."""
    raw = np.asarray(raw)
    return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw


class XGBoostTrainer(Trainer):
    """Trainer for `xgboost.XGBClassifier` (hist tree method, one thread)."""

    framework = "xgboost"
    pyfunc_output = "labels"

    def fit(self, job: FitJob) -> Any:
        callbacks = [_ReportRounds(job)] if job.report is not None else None
        model = xgb.XGBClassifier(
            tree_method="hist",
            n_jobs=1,
            random_state=job.seed,
            callbacks=callbacks,
            **{"n_estimators": 50, **job.params},
        )
        model.fit(job.splits.x_train, job.splits.y_train, verbose=False)
        model.set_params(callbacks=None)  # callbacks hold the data splits; do not pickle them with the model
        return model

    def log_flavour(self, model: Any, **logged: Any) -> ModelInfo:
        import mlflow.xgboost

        return mlflow.xgboost.log_model(
            model,
            pip_requirements=[
                f"xgboost=={xgb.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"mlflow=={mlflow.__version__}",
            ],
            **logged,
        )
