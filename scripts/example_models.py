"""Small iris model versions registered without a sweep, for the demo (`scripts/demo_steps.py`) and live tests.

- `register_iris`: a LogisticRegression on iris with named columns, logged and registered with its digests and
  its (training-set) accuracy, like a sweep's winner;
- `register_reference_forest`: the serving benchmark's fixed model, a 100-tree RandomForest on iris, so that its
  figures compare across runs instead of following whatever a sweep picked;
- `register_broken`: a model that loads and passes the replica health check (an all-zero probe row) but raises
  on every real input - a preprocessing bug shipped for real. It deploys and reaches RUNNING, then answers live
  traffic with errors, which a canary has to catch;
- `register_dead`: a model that loads but cannot predict anything, the probe row included: the version replica's
  health check reports it.

Both talk to the MLflow server `MLFLOW_TRACKING_URI` names (as `eval "$(python -m cluster env)"` sets it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from monitoring.profile import PROFILE_FILE, ReferenceProfile, build_profile
from registry.api import PinnedVersion, register

BROKEN_MODEL_CODE = """
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import set_model


class FailsOnRealInput(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        values = np.asarray(model_input, dtype=float)
        if np.any(values != 0):
            raise RuntimeError("feature scaling bug: this version cannot handle real inputs")
        return np.zeros(len(values), dtype=int)


set_model(FailsOnRealInput())
"""


DEAD_MODEL_CODE = """
import mlflow.pyfunc
from mlflow.models import set_model


class CannotPredict(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise RuntimeError("corrupt weights: this version cannot predict")


set_model(CannotPredict())
"""


def register_iris(name: str, *, experiment: str, sweep_id: str, with_profile: bool = True) -> PinnedVersion:
    """Train, log (in `experiment`) and register a new version of `name`, with its reference profile unless
    `with_profile` is False (a version registered before monitoring existed)."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=features.head(2), pip_requirements=["scikit-learn"]
        )
    accuracy = float(model.score(features, target))
    profile = _profile(features, model) if with_profile else None
    return _register(name, info.model_id, run.info.run_id, sweep_id, {"accuracy": accuracy}, profile)


def register_petal_width_regressor(name: str, *, experiment: str, sweep_id: str) -> PinnedVersion:
    """A LinearRegression predicting iris' petal width from its three other measurements: a regressor, whose live
    quality is MAE and RMSE rather than accuracy."""
    features, _ = load_iris(return_X_y=True, as_frame=True)
    target = features.pop("petal width (cm)")
    model = LinearRegression().fit(features, target)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=features.head(2), pip_requirements=["scikit-learn"]
        )
    profile = build_profile(features, source="iris (all rows)", predictions=model.predict(features))
    r2 = float(model.score(features, target))
    return _register(name, info.model_id, run.info.run_id, sweep_id, {"r2": r2}, profile)


def register_reference_forest(name: str, *, experiment: str, sweep_id: str, seed: int = 0) -> PinnedVersion:
    """Train, log and register scikit-learn's default RandomForest (100 trees) on iris, seeded: the same model
    every time for a given seed."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1).fit(features, target)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features.head(2),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=["sklearn.tree._tree.Tree"],  # the forest's trees: our own file
        )
    accuracy = float(model.score(features, target))
    return _register(name, info.model_id, run.info.run_id, sweep_id, {"accuracy": accuracy}, _profile(features, model))


def register_mislabelled(name: str, *, experiment: str, sweep_id: str) -> PinnedVersion:
    """A LogisticRegression trained on iris with its class names shuffled (0->1, 1->2, 2->0): it loads, passes
    every health check and answers 200, and is wrong on nearly every row - what only labels reveal. Its profile is
    honest about what it predicts, so its prediction distribution looks as healthy as its HTTP status."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, (target + 1) % 3)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=features.head(2), pip_requirements=["scikit-learn"]
        )
    accuracy = float(model.score(features, target))
    return _register(name, info.model_id, run.info.run_id, sweep_id, {"accuracy": accuracy}, _profile(features, model))


def register_broken(name: str, *, experiment: str, sweep_id: str) -> PinnedVersion:
    """Log (in `experiment`) and register a version of `name` that fails on every real input."""
    return _register_code_model(name, BROKEN_MODEL_CODE, experiment=experiment, sweep_id=sweep_id)


def register_dead(name: str, *, experiment: str, sweep_id: str) -> PinnedVersion:
    """Log (in `experiment`) and register a version of `name` that cannot predict at all."""
    return _register_code_model(name, DEAD_MODEL_CODE, experiment=experiment, sweep_id=sweep_id)


def _register_code_model(name: str, model_code: str, *, experiment: str, sweep_id: str) -> PinnedVersion:
    features, _ = load_iris(return_X_y=True, as_frame=True)
    mlflow.set_experiment(experiment)
    # Models from code: MLflow copies the file into the model's artifacts, so a temporary one is enough.
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        code = Path(tmp) / "model_code.py"
        code.write_text(model_code)
        signature = infer_signature(features.head(2), np.array([0, 0]))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(code), signature=signature, pip_requirements=["mlflow"]
        )
    profile = build_profile(features, source="iris (all rows)")  # it predicts nothing real: features only
    return _register(name, info.model_id, run.info.run_id, sweep_id, {}, profile)


def _profile(features: pd.DataFrame, model) -> ReferenceProfile:
    """The reference profile of an iris classifier: features and predictions over the whole dataset."""
    probabilities = model.predict_proba(features)
    predictions = model.classes_[np.argmax(probabilities, axis=1)]
    return build_profile(
        features,
        source="iris (all rows)",
        predictions=predictions,
        probabilities=probabilities,
        classes=model.classes_.tolist(),
    )


def _register(
    name: str, model_id: str, run_id: str, sweep_id: str, metrics: dict[str, float], profile: ReferenceProfile | None
) -> PinnedVersion:
    return register(
        name,
        model_id,
        metrics=metrics,
        dataset_fingerprint="iris",
        sweep_id=sweep_id,
        trial_id=run_id,
        extra_files={PROFILE_FILE: profile.to_json().encode()} if profile is not None else None,
    )
