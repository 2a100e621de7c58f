"""scikit-learn estimators: one fit, scored once on the validation split."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops.io
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training.datasets import Splits
from training.scoring import score
from training.trainers.base import ReportFn


def build_estimator(estimator: str, params: dict[str, Any], seed: int) -> Any:
    """A fresh, single-threaded estimator (n_jobs=1: trials share two cores)."""
    params = {"random_state": seed, **params}
    if estimator == "random_forest":
        return RandomForestClassifier(n_jobs=1, **params)
    if estimator == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(**params)
    if estimator == "logistic_regression":
        # Scaling makes lbfgs converge on unscaled features (breast_cancer) without a huge max_iter.
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(**params))])
    raise ValueError(f"unknown sklearn estimator '{estimator}'")


class SklearnTrainer:
    """Trainer for RandomForest, LogisticRegression and HistGradientBoosting classifiers."""

    framework = "sklearn"
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
        model = build_estimator(estimator, params, seed).fit(splits.x_train, splits.y_train)
        if report is not None:
            report(1, score(splits.y_valid, self.predict_proba(model, splits.x_valid), splits.classes))
        return model

    def predict_proba(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(features)

    def log_model(self, model: Any, *, name: str, features: pd.DataFrame, metadata: dict[str, Any]) -> ModelInfo:
        example = features.head(3)
        return mlflow.sklearn.log_model(
            model,
            name=name,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            # Explicit requirements: inferring them imports the model in a subprocess, which costs ~40 s here.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
            metadata=metadata,
            skops_trusted_types=trusted_types(model),
        )


def trusted_types(model: Any) -> list[str]:
    """The types skops would refuse to load from this model's file (e.g. `sklearn.tree._tree.Tree`).

    We trust them because this process built the model; the file's integrity afterwards is guarded by the sha256
    manifest that `registry.download_verified` checks before anything loads it.
    """
    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
