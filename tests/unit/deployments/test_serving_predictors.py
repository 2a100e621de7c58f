"""Each native fast path (and the pyfunc fallback) loads a locally saved MLflow model and predicts a batch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from deployments.predictors import _forest_proba, load_predictor
from deployments.types import Features, Prediction, TensorSpec
from deployments.version_app import LoadedModel, VersionPredictor

X, Y = load_iris(return_X_y=True)
FRAME = load_iris(as_frame=True).data
# What rayship's PyTorch trainer writes into the MLmodel metadata (training.winner.model_metadata), in part.
MLP_METADATA = {"rayship": {"flavor": "pytorch", "classes": [0, 1, 2], "pyfunc_output": "probabilities"}}


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


def softmax_mlp(torch, classes: int = 3):
    """An MLP ending in softmax, like the one rayship's PyTorch trainer logs (untrained: its weights are seeded)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, classes), torch.nn.Softmax(1))


def save_mlp(torch, model, path: Path, metadata: dict) -> None:
    signature = mlflow.models.infer_signature(
        FRAME.head(3), model(torch.tensor(X[:3], dtype=torch.float32)).detach().numpy()
    )
    mlflow.pytorch.save_model(
        model,
        path,
        serialization_format="pickle",
        pip_requirements=["torch"],
        signature=signature,
        input_example=FRAME.head(3),
        metadata=metadata,
    )


@pytest.mark.parametrize("classes", [[0, 1, 2], [10, 20, 30]])
def test_a_pytorch_classifier_answers_its_labels_and_probabilities(tmp_path: Path, classes: list[int]) -> None:
    torch = pytest.importorskip("torch")
    model = softmax_mlp(torch)
    save_mlp(torch, model, tmp_path / "m", {"rayship": {**MLP_METADATA["rayship"], "classes": classes}})
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    labels, probabilities = predictor.run(X[45:55], tuple(FRAME.columns))
    expected = np.asarray(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(FRAME.iloc[45:55]))
    assert (predictor.flavor, predictor.classes) == ("pytorch", classes)
    assert expected.shape == (10, 3) and np.allclose(probabilities, expected, rtol=0, atol=1e-6)
    assert labels.tolist() == np.asarray(classes)[np.argmax(expected, axis=1)].tolist()
    assert len(set(labels.tolist())) > 1  # the seeded net does not answer one class for every row


def test_a_pytorch_classifier_is_described_like_the_other_classifiers(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_mlp(torch, softmax_mlp(torch), tmp_path / "m", MLP_METADATA)
    loaded = LoadedModel("wine", "4", tmp_path / "m")
    assert loaded.metadata.platform == "pytorch"
    assert loaded.metadata.outputs == [
        TensorSpec("predict", "INT64", [-1]),
        TensorSpec("predict_proba", "FP64", [-1, 3]),
    ]


def test_a_pytorch_output_that_does_not_fit_its_classes_fails_the_model_call(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_mlp(torch, softmax_mlp(torch, classes=2), tmp_path / "m", MLP_METADATA)
    predictor = load_predictor(tmp_path / "m", flavors(tmp_path / "m"))
    with pytest.raises(
        RuntimeError, match=r"^the model returned outputs of shape \[1, 2\], not probabilities of its 3 classes$"
    ):
        predictor.run(X[:1], None)


class NoSizes:
    def observe(self, value: float) -> None:
        pass


def save_named_xgboost(path: Path) -> Callable[[pd.DataFrame], np.ndarray]:
    """An XGBoost classifier fitted on named columns; returns its MLflow model's `predict_proba`."""
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(FRAME, Y)
    signature = mlflow.models.infer_signature(FRAME.head(3), model.predict(FRAME.head(3)))
    mlflow.xgboost.save_model(model, path, pip_requirements=["xgboost"], signature=signature)
    return lambda frame: mlflow.pyfunc.load_model(str(path)).get_raw_model().predict_proba(frame)


def save_named_mlp(path: Path) -> Callable[[pd.DataFrame], np.ndarray]:
    """The softmax MLP with a named-column signature; returns its MLflow model's pyfunc (probabilities)."""
    torch = pytest.importorskip("torch")
    save_mlp(torch, softmax_mlp(torch), path, MLP_METADATA)
    return lambda frame: np.asarray(mlflow.pyfunc.load_model(str(path)).predict(frame))


@pytest.mark.parametrize("save", [save_named_xgboost, save_named_mlp], ids=["xgboost", "pytorch"])
def test_named_columns_in_any_order_predict_what_positional_rows_do(tmp_path: Path, save) -> None:
    proba_of = save(tmp_path / "m")
    predictor = VersionPredictor(LoadedModel("m", "1", tmp_path / "m"), NoSizes())
    rows = [0, 60, 120, 140, 75]
    order = [3, 1, 0, 2]
    named = Features(X[rows][:, order], tuple(FRAME.columns[order]))
    positional, shuffled = predictor.predict_many([Features(X[rows]), named])
    expected = proba_of(FRAME.iloc[rows])
    assert isinstance(positional, Prediction) and positional == shuffled
    assert positional.classes == [0, 1, 2]
    assert positional.predictions == np.argmax(expected, axis=1).tolist()
    assert np.allclose(positional.probabilities, expected, rtol=0, atol=1e-6)


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
