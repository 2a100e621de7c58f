"""Each native fast path (and the pyfunc fallback) loads a locally saved MLflow model and predicts a batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from deployments.predictors import _forest_proba, load_predictor

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


@pytest.mark.parametrize("estimator", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_forest_fast_path_gives_scikit_learns_probabilities_bit_for_bit(estimator, rows: int) -> None:
    x, y = load_digits(return_X_y=True)  # 10 classes, 64 features: more than one tree depth and class count
    model = estimator(n_estimators=25, random_state=0).fit(x, y)
    fast = _forest_proba(model)
    assert fast is not None
    assert np.array_equal(fast(x[:rows]), model.predict_proba(x[:rows]))


def test_forest_fast_path_checks_input_as_scikit_learn_does() -> None:
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    fast = _forest_proba(model)
    missing = np.array([[np.nan, 1.0, 1.0, 1.0]])  # forests route missing values since scikit-learn 1.4
    assert np.array_equal(fast(missing), model.predict_proba(missing))
    with pytest.raises(ValueError, match="has 3 features, but RandomForestClassifier is expecting 4"):
        fast(np.ones((1, 3)))
    with pytest.raises(ValueError, match="infinity"):
        fast(np.array([[np.inf, 1.0, 1.0, 1.0]]))


def test_forest_fast_path_is_only_for_single_output_classifiers() -> None:
    assert _forest_proba(RandomForestRegressor(n_estimators=2).fit(X, Y)) is None
    assert _forest_proba(RandomForestClassifier(n_estimators=2).fit(X, np.column_stack([Y, Y]))) is None
    assert _forest_proba(LogisticRegression(max_iter=300).fit(X, Y)) is None


def test_saved_random_forest_is_served_through_the_fast_path(tmp_path: Path) -> None:
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, Y)
    trusted = ["sklearn.tree._tree.Tree"]  # what the sweep's trainer passes for forests
    mlflow.sklearn.save_model(model, tmp_path / "m", pip_requirements=["scikit-learn"], skops_trusted_types=trusted)
    labels, probabilities = load_predictor(tmp_path / "m", flavors(tmp_path / "m")).run(X[45:55], None)
    assert labels.tolist() == model.predict(X[45:55]).tolist()
    assert np.array_equal(probabilities, model.predict_proba(X[45:55]))


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


LOAD_AND_PREDICT = """
import sys
from pathlib import Path

import yaml

from deployments.predictors import load_predictor

path = Path(sys.argv[1])
predictor = load_predictor(path, yaml.safe_load((path / "MLmodel").read_text())["flavors"])
print(predictor.run([[5.1, 3.5, 1.4, 0.2]], None)[0].tolist(), "torch" in sys.modules)
import torch  # still importable afterwards
print(torch.__name__)
"""


def test_loading_a_skops_forest_does_not_import_pytorch(tmp_path: Path) -> None:
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y)
    mlflow.sklearn.save_model(
        model,
        tmp_path / "m",
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=["scikit-learn"],
    )
    # A fresh interpreter: this one imported PyTorch while saving (skops' trust list walks scikit-learn).
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(tmp_path / "m")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.stdout.split() == ["[0]", "False", "torch"]
