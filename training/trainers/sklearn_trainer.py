"""scikit-learn estimators: one fit, scored once on the validation split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training.trainers.base import FitJob, Trainer

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo


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


class SklearnTrainer(Trainer):
    """Trainer for RandomForest, LogisticRegression and HistGradientBoosting classifiers."""

    framework = "sklearn"
    pyfunc_output = "labels"

    def fit(self, job: FitJob) -> Any:
        """One fit, then one report (iteration 1): there are no rounds to stop early."""
        model = build_estimator(job.estimator, job.params, job.seed).fit(job.splits.x_train, job.splits.y_train)
        if job.report is not None:
            job.report(1, job.validation_scores(self.predict_proba(model, job.splits.x_valid)))
        return model

    def log_flavour(self, model: Any, **logged: Any) -> ModelInfo:
        import mlflow.sklearn

        return mlflow.sklearn.log_model(
            model,
            # Explicit requirements: inferring them imports the model in a subprocess, which costs ~40 s here.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
            skops_trusted_types=trusted_types(model),
            **logged,
        )


def trusted_types(model: Any) -> list[str]:
    """The types skops would refuse to load from this model's file (e.g. `sklearn.tree._tree.Tree`).

    We trust them because this process built the model; the file's integrity afterwards is guarded by the sha256
    manifest that `registry.download_verified` checks before anything loads it.
    """
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
