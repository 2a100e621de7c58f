"""Refitting the best trial's configuration and logging it to the sweep run: native flavour, signature,
input example, holdout metrics and the dataset (`mlflow.log_input`)."""

from __future__ import annotations

import warnings
from typing import Any

import mlflow
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from monitoring.profile import ReferenceProfile, build_profile
from registry.model_facts import METADATA_KEY
from training.datasets import Splits, Table
from training.scoring import score
from training.spec import SweepSpec
from training.trainers import FitJob, Trainer, trainer_for

MODEL_NAME = "model"
PROBABILITY_FRAMEWORKS = ("sklearn", "xgboost")  # whose served predictor answers with class probabilities


class Winner(BaseModel):
    """The logged winning model and its holdout scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trial_id: str = Field(description="Tune trial whose configuration won.")
    params: dict[str, Any] = Field(description="Hyper-parameters of the winner (fixed and searched).")
    model_id: str = Field(description="MLflow 3 logged-model id ('m-...').")
    test_scores: dict[str, float] = Field(description="Scores on the holdout test split.")
    profile: ReferenceProfile = Field(
        description="Reference profile: the training split's features, the holdout's predictions."
    )


def model_metadata(spec: SweepSpec, trainer: Trainer, splits: Splits, dataset_sha256: str) -> dict[str, Any]:
    """The `rayship` block of the MLmodel file (read back by `registry.model_facts`)."""
    return {
        METADATA_KEY: {
            "flavor": spec.trainer.framework,
            "estimator": spec.trainer.estimator,
            "task": "classification",
            "has_predict_proba": spec.trainer.framework in PROBABILITY_FRAMEWORKS,
            "classes": splits.classes,
            "pyfunc_output": trainer.pyfunc_output,
            "feature_names": [str(c) for c in splits.x_train.columns],
            "dataset_sha256": dataset_sha256,
        }
    }


def fit_and_log_winner(
    spec: SweepSpec, table: Table, splits: Splits, trial_id: str, config: dict[str, Any], dataset_sha256: str
) -> Winner:
    """Refit `config` deterministically (same seed as the trial) and log it into the active MLflow run."""
    trainer = trainer_for(spec.trainer.framework)
    params = {**spec.trainer.params, **config}
    model = trainer.fit(FitJob(estimator=spec.trainer.estimator, params=params, splits=splits, seed=spec.seed))
    probabilities = trainer.predict_proba(model, splits.x_test)
    test_scores = score(splits.y_test, probabilities, splits.classes)
    profile = reference_profile(spec, splits, probabilities)
    with warnings.catch_warnings():
        # MLflow warns that a plain source string "can be interpreted in multiple ways"; it is only a label here.
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            table.frame, source=_source_uri(table), targets=str(table.target.name), name=spec.dataset.label
        )
    mlflow.log_input(dataset, context="training")
    info = trainer.log_model(
        model, name=MODEL_NAME, features=splits.x_train, metadata=model_metadata(spec, trainer, splits, dataset_sha256)
    )
    mlflow.log_params({f"best.{k}": v for k, v in params.items()})
    mlflow.log_metrics({f"test_{k}": v for k, v in test_scores.items()}, model_id=info.model_id)
    mlflow.set_tag("rayship.best_trial_id", trial_id)
    return Winner(trial_id=trial_id, params=params, model_id=info.model_id, test_scores=test_scores, profile=profile)


def reference_profile(spec: SweepSpec, splits: Splits, probabilities: np.ndarray) -> ReferenceProfile:
    """What the served version will be compared with: bins of the training features and, where the served
    predictor answers with class probabilities (scikit-learn, XGBoost), the holdout's predicted classes and top
    probabilities. A PyTorch version serves raw outputs, so its profile holds the features only."""
    source = f"{spec.dataset.label}: training split (features), holdout (predictions)"
    if spec.trainer.framework not in PROBABILITY_FRAMEWORKS:
        return build_profile(splits.x_train, source=source)
    predictions = np.asarray(splits.classes)[np.argmax(probabilities, axis=1)]
    return build_profile(
        splits.x_train,
        source=source,
        predictions=predictions,
        probabilities=probabilities,
        classes=splits.classes,
    )


def _source_uri(table: Table) -> str:
    return table.source if "/" in table.source or "." in table.source else f"sklearn.datasets.load_{table.source}"
