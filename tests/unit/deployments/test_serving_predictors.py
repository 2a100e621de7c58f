"""Each native fast path (and the pyfunc fallback) loads a locally saved MLflow model and predicts a batch."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from deployments.predictors import load_predictor

X, Y = load_iris(return_X_y=True)


def flavors(path: Path) -> dict:
    return mlflow.models.Model.load(str(path)).flavors


def test_sklearn_classifier_returns_labels_and_probabilities(tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    mlflow.sklearn.save_model(model, tmp_path / "m", pip_requirements=["scikit-learn"])
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    labels, probabilities = predictor.run(X[:5], None)
    assert (predictor.flavor, predictor.classes) == ("sklearn", [0, 1, 2])
    assert labels.tolist() == model.predict(X[:5]).tolist()
    assert np.allclose(probabilities, model.predict_proba(X[:5]))


def test_sklearn_regressor_has_no_probabilities(tmp_path: Path) -> None:
    model = LinearRegression().fit(X, Y)
    mlflow.sklearn.save_model(model, tmp_path / "m", pip_requirements=["scikit-learn"])
    predictions, probabilities = load_predictor(tmp_path / "m", flavors(tmp_path / "m")).run(X[:3], None)
    assert np.allclose(predictions, model.predict(X[:3])) and probabilities is None


def test_xgboost_uses_inplace_predict(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, Y)
    mlflow.xgboost.save_model(model, tmp_path / "m", pip_requirements=["xgboost"])
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    labels, probabilities = predictor.run(X[:5], None)
    assert predictor.flavor == "xgboost"
    assert labels.tolist() == model.predict(X[:5]).tolist()
    assert np.allclose(probabilities, model.predict_proba(X[:5]), atol=1e-6)


def test_pytorch_runs_in_eval_mode_without_gradients(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 1))
    example = X[:2].astype(np.float32)
    mlflow.pytorch.save_model(model, tmp_path / "m", pip_requirements=["torch"], input_example=example)
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    predictions, _ = predictor.run(X[:3], None)
    expected = model(torch.tensor(X[:3], dtype=torch.float32)).detach().numpy()[:, 0]
    assert predictor.flavor == "pytorch" and np.allclose(predictions, expected, atol=1e-6)


def test_other_flavours_fall_back_to_pyfunc(tmp_path: Path) -> None:
    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input["a"] * 2

    mlflow.pyfunc.save_model(tmp_path / "m", python_model=Doubler(), pip_requirements=["mlflow"])
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    predictions, _ = predictor.run(np.array([[1.0], [2.5]]), ("a",))
    assert (predictor.flavor, predictions.tolist()) == ("pyfunc", [2.0, 5.0])
