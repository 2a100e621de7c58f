"""The peer benchmark's two reference models, fitted with fixed seeds on scikit-learn's breast-cancer data (30 columns).

`load_reference_models(cache_dir)` fits them once and keeps them in `cache_dir` (joblib, keyed by the library versions,
so an upgrade refits instead of unpickling across versions); `write_mlserver_artifacts` lays them out the way
MLServer's sklearn and xgboost runtimes load them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np

RF = "rf"
XGB = "xgb"
REFERENCE_MODELS = (RF, XGB)
FEATURES = 30


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    estimator: Any  # a fitted classifier with predict / predict_proba
    row: list[float]  # one sample row, the body of every benchmark request

    def expected_class(self) -> int:
        """The class every server should answer for `row`: a served model that differs is a different model."""
        return int(self.estimator.predict(np.asarray([self.row]))[0])


def _estimator(name: str) -> Any:
    if name == RF:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0)
    if name == XGB:
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=100, max_depth=6, random_state=0)
    raise ValueError(f"unknown reference model {name!r} (known: {', '.join(REFERENCE_MODELS)})")


def _dataset() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return data.data, data.target


def cache_path(name: str, cache_dir: Path) -> Path:
    return cache_dir / f"{name}-sklearn{version('scikit-learn')}-xgboost{version('xgboost')}.joblib"


def load_reference(name: str, cache_dir: Path) -> ReferenceModel:
    """The fitted estimator and the first data row; fitted on first use, then read from `cache_dir`."""
    features, target = _dataset()
    path = cache_path(name, cache_dir)
    if path.exists():
        estimator = joblib.load(path)
    else:
        estimator = _estimator(name).fit(features, target)
        cache_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(estimator, path)
    return ReferenceModel(name=name, estimator=estimator, row=[float(x) for x in features[0]])


def load_reference_models(cache_dir: Path) -> dict[str, ReferenceModel]:
    return {name: load_reference(name, cache_dir) for name in REFERENCE_MODELS}


def mlserver_artifact(name: str) -> tuple[str, str]:
    """(MLServer runtime class, file name) of a model: the file names the two runtimes look for by default."""
    if name == RF:
        return "mlserver_sklearn.SKLearnModel", "model.joblib"
    if name == XGB:
        return "mlserver_xgboost.XGBoostModel", "model.json"
    raise ValueError(f"unknown reference model {name!r} (known: {', '.join(REFERENCE_MODELS)})")


def write_mlserver_artifacts(models: dict[str, ReferenceModel], repository: Path) -> None:
    """Each model's file into `repository/<name>/`; the model-settings.json beside it is the server's business."""
    for name, model in models.items():
        folder = repository / name
        folder.mkdir(parents=True, exist_ok=True)
        _, filename = mlserver_artifact(name)
        if name == XGB:
            # XGBoost's own JSON format, not a pickle: what MLServer's xgboost runtime loads.
            model.estimator.save_model(folder / filename)
        else:
            joblib.dump(model.estimator, folder / filename)
