"""A version replica answers a gateway's batch in model calls of at most `max_batch_size` requests, in order,
with bad requests answered alone (its predicting parts, `VersionPredictor`, around a locally saved model)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deployments.output_split import NON_FINITE_OUTPUT
from deployments.predictors import Predictor
from deployments.types import Features, Prediction, VersionError
from deployments.version_app import LoadedModel, VersionPredictor
from monitoring.profile import PROFILE_FILE, build_profile
from monitoring.sketch import Sketch

X, Y = load_iris(return_X_y=True)


class SizeLog:
    """Stands in for the Ray batch-size histogram."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def observe(self, value: int) -> None:
        self.sizes.append(value)


def replica(tmp_path: Path, max_batch_size: int) -> tuple[VersionPredictor, LogisticRegression, SizeLog]:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    signature = mlflow.models.infer_signature(X, Y)
    mlflow.sklearn.save_model(model, tmp_path / "m", signature=signature, pip_requirements=["scikit-learn"])
    sizes = SizeLog()
    return VersionPredictor(LoadedModel("iris", "3", tmp_path / "m"), sizes, max_batch_size), model, sizes


def test_a_gateway_batch_is_predicted_in_chunks_and_answered_in_order(tmp_path: Path) -> None:
    version, model, sizes = replica(tmp_path, max_batch_size=2)
    requests = [Features(X[i : i + rows]) for i, rows in ((0, 1), (50, 2), (100, 1), (10, 3), (140, 1))]
    answers = version.predict_many(requests)
    assert [type(answer) for answer in answers] == [Prediction] * 5
    assert [answer.predictions for answer in answers] == [model.predict(f.values).tolist() for f in requests]
    assert [answer.batch_size for answer in answers] == [2, 2, 2, 2, 1]
    assert sizes.sizes == [2, 2, 1]


def test_a_bad_request_in_a_batch_gets_its_own_error_and_the_others_their_predictions(tmp_path: Path) -> None:
    version, model, sizes = replica(tmp_path, max_batch_size=32)
    requests = [Features(X[:1]), Features(np.ones((1, 3))), Features(X[60:62])]
    answers = version.predict_many(requests)
    assert answers[1] == VersionError(400, "Model 'iris' version '3' expects 4 features, got 3")
    assert [answers[0].predictions, answers[2].predictions] == [
        model.predict(X[:1]).tolist(),
        model.predict(X[60:62]).tolist(),
    ]
    assert sizes.sizes == [2]


def test_values_the_model_refuses_fail_only_their_own_request(tmp_path: Path) -> None:
    version, model, sizes = replica(tmp_path, max_batch_size=32)
    broken = X[:1].copy()
    broken[0, 2] = np.nan
    answers = version.predict_many([Features(X[:1]), Features(broken)])
    assert answers[0].predictions == model.predict(X[:1]).tolist()
    assert isinstance(answers[1], VersionError) and answers[1].status_code == 400
    assert answers[1].message.startswith("Model 'iris' version '3' cannot predict this input: Input X contains NaN")
    assert sizes.sizes == [2]  # one vectorised try, then each request alone


def test_a_request_the_model_answers_with_nan_fails_alone_as_the_versions_500(tmp_path: Path) -> None:
    version, model, sizes = replica(tmp_path, max_batch_size=32)
    fitted = version.model.predictor

    def nan_for_wide_petals(values: np.ndarray, columns):
        predictions, probabilities = fitted.run(values, columns)
        probabilities = probabilities.copy()
        probabilities[values[:, 3] > 2.0] = np.nan  # a model that breaks on part of the input space
        return predictions, probabilities

    version.model.predictor = Predictor(fitted.flavor, nan_for_wide_petals, fitted.classes)
    wide = X[Y == 2][X[Y == 2][:, 3] > 2.0][:1]
    answers = version.predict_many([Features(X[:2]), Features(wide), Features(X[60:61])])
    assert answers[1] == VersionError(500, NON_FINITE_OUTPUT)
    assert [answers[0].predictions, answers[2].predictions] == [
        model.predict(X[:2]).tolist(),
        model.predict(X[60:61]).tolist(),
    ]
    assert sizes.sizes == [3]  # one vectorised call: a non-finite output is an answer, not a crash to retry alone


def profiled_replica(tmp_path: Path, features: np.ndarray) -> tuple[VersionPredictor, Sketch]:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    mlflow.sklearn.save_model(model, tmp_path / "m", signature=mlflow.models.infer_signature(X, Y))
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
    (tmp_path / "m" / PROFILE_FILE).write_text(build_profile(frame, source="test").to_json())
    loaded = LoadedModel("iris", "3", tmp_path / "m")
    sketch = Sketch(loaded.profile) if loaded.profile is not None else None
    return VersionPredictor(loaded, SizeLog(), 32, sketch=sketch), sketch


def test_every_predicted_row_is_binned_into_the_profile_and_refused_ones_are_not(tmp_path: Path) -> None:
    version, sketch = profiled_replica(tmp_path, X)
    requests = [Features(X[0:3]), Features(np.array([[1.0, 2.0]])), Features(X[50:52])]

    answers = version.predict_many(requests)

    assert [type(answer) for answer in answers] == [Prediction, VersionError, Prediction]
    counts = sketch.snapshot()
    assert counts.rows == 5 and sum(counts.features) == 5 * X.shape[1]


def test_a_profile_that_does_not_fit_the_models_inputs_is_not_used(tmp_path: Path, caplog) -> None:
    version, sketch = profiled_replica(tmp_path, X[:, :2])

    assert sketch is None and version.model.profile is None
    assert "the reference profile has 2 features, the model 4: not monitored" in caplog.text
