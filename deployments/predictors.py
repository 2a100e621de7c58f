"""Loading a verified MLflow model directory into a fast batch predictor.

Native fast paths where they pay: scikit-learn `predict`/`predict_proba` on the raw array (a random forest's
trees summed directly, without joblib), XGBoost `inplace_predict` (no DMatrix), PyTorch in eval mode under
`no_grad` (labels and probabilities when its metadata says it outputs class probabilities); MLflow pyfunc for any
other flavour.
PyTorch is an optional extra (`rayship[torch]`): it is imported only when a PyTorch model loads, and a replica
without it fails that model's load with `FrameworkNotInstalledError`, naming the extra; the other flavours never
need it.
Every path runs single-threaded (one BLAS/OpenMP thread, `n_jobs=1`): replicas get fractional CPUs and
parallelism comes from replicas and batching, not threads.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deployments.errors import FrameworkNotInstalledError

# pyproject's [project.optional-dependencies] entry that installs PyTorch.
TORCH_EXTRA = "torch"

Output = tuple[np.ndarray, np.ndarray | None]  # predictions, probabilities (rows x classes) or None


@dataclass(frozen=True)
class Predictor:
    """A loaded model: `run(values, columns)` predicts a 2-D batch."""

    flavor: str
    run: Callable[[np.ndarray, tuple[str, ...] | None], Output]
    classes: list[Any] | None


def load_predictor(model_dir: Path, flavors: dict[str, Any], *, model_uri: str | None = None) -> Predictor:
    """Pick the fastest path the MLmodel's flavours allow; errors name the model as `model_uri` (e.g.
    'models:/iris/3'), else as its directory."""
    _limit_threads()
    if "sklearn" in flavors:
        return _sklearn(model_dir)
    if "xgboost" in flavors:
        return _xgboost(model_dir)
    if "pytorch" in flavors:
        return _pytorch(model_dir, model_uri or str(model_dir))
    return _pyfunc(model_dir)


def _limit_threads() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _sklearn(model_dir: Path) -> Predictor:
    import mlflow.sklearn

    with _unimportable("torch"):
        model = mlflow.sklearn.load_model(str(model_dir))
    _single_job(model)
    # Models fitted on DataFrames warn on every array input; the columns were already checked against the signature.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    has_proba = hasattr(model, "predict_proba") and hasattr(model, "classes_")
    predict_proba = _forest_proba(model) or getattr(model, "predict_proba", None)

    def run(values: np.ndarray, columns: tuple[str, ...] | None) -> Output:
        if has_proba:
            probabilities = predict_proba(values)
            return model.classes_[np.argmax(probabilities, axis=1)], probabilities
        return model.predict(values), None

    classes = model.classes_.tolist() if has_proba else None
    return Predictor("sklearn", run, classes)


@contextlib.contextmanager
def _unimportable(module: str) -> Iterator[None]:
    """`import module` fails inside the block, unless it was imported before.

    Why: loading a skops file imports skops' trust list, which walks every scikit-learn module, and one of them
    (`sklearn.externals.array_api_compat.torch`) imports PyTorch when it is installed: ~270 MiB in a replica
    serving a forest. The walk skips packages that fail to import, as it does where PyTorch is absent. A finder
    refuses the import rather than a `None` in `sys.modules`, which SciPy's array-API checks would trip on."""
    if module in sys.modules:
        yield
        return
    finder = _Refuse(module)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, module: str) -> None:
        self.module = module

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname == self.module or fullname.startswith(self.module + "."):
            raise ModuleNotFoundError(f"{fullname} is not imported while a scikit-learn model loads", name=fullname)
        return None


def _forest_proba(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """`predict_proba` of a single-output random forest (or extra trees) without joblib, else None.

    Why: with `n_jobs=1`, scikit-learn still runs each tree through joblib and a per-tree config and warnings
    context; for the small batches served here that costs more than the trees (a 100-tree iris forest, 1-32 rows:
    5.3-6.3 ms per call through scikit-learn, 0.5-0.7 ms here). Same arithmetic as scikit-learn's: the input is
    validated once (float32, finite or missing as the forest allows, feature count: the same errors), the trees'
    class fractions are added in the forest's order, then divided by their number - the same probabilities, bit
    for bit."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    if type(model) not in (RandomForestClassifier, ExtraTreesClassifier) or model.n_outputs_ != 1:
        return None
    if not hasattr(model, "_validate_X_predict"):  # scikit-learn's private check; a future release may rename it
        return None
    trees = [estimator.tree_ for estimator in model.estimators_]
    n_classes = int(model.n_classes_)

    def predict_proba(values: np.ndarray) -> np.ndarray:
        checked = model._validate_X_predict(values)
        total = np.zeros((checked.shape[0], n_classes), dtype=np.float64)
        for tree in trees:
            total += tree.predict(checked)[:, :n_classes]
        total /= len(trees)
        return total

    return predict_proba


def _single_job(model: Any) -> None:
    if hasattr(model, "get_params") and hasattr(model, "set_params"):
        jobs = {key: 1 for key in model.get_params() if key == "n_jobs" or key.endswith("__n_jobs")}
        if jobs:
            model.set_params(**jobs)


def _xgboost(model_dir: Path) -> Predictor:
    import mlflow.xgboost
    import xgboost as xgb

    model = mlflow.xgboost.load_model(str(model_dir))
    booster = model.get_booster() if isinstance(model, xgb.XGBModel) else model
    booster.set_param({"nthread": 1})
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    classes = getattr(model, "classes_", None)
    classes = classes.tolist() if classes is not None else None  # a bare Booster's labels are indices

    def run(values: np.ndarray, columns: tuple[str, ...] | None) -> Output:
        out = np.asarray(booster.inplace_predict(values))
        if objective == "binary:logistic":
            probabilities = np.column_stack([1.0 - out, out])
        elif objective == "multi:softprob":
            probabilities = out
        else:
            return out, None
        labels = np.asarray(classes) if classes is not None else np.arange(probabilities.shape[1])
        return labels[np.argmax(probabilities, axis=1)], probabilities

    return Predictor("xgboost", run, classes)


def _pytorch(model_dir: Path, model_uri: str) -> Predictor:
    """A classifier whose MLmodel metadata says its output is class probabilities (rayship's trainer logs an MLP
    ending in softmax, with its classes) answers labels and probabilities like the other flavours; any other
    network answers its raw output."""
    try:
        import mlflow.pytorch  # imports torch
        import torch
    except ModuleNotFoundError as exc:
        # Only torch itself missing is the absent extra; a broken install (a submodule or library missing) is a
        # plain load failure with its own reason.
        if exc.name != "torch":
            raise
        raise FrameworkNotInstalledError(model_uri, "pytorch", "torch", TORCH_EXTRA) from exc

    from registry.model_facts import read_model_facts

    torch.set_num_threads(1)
    model = mlflow.pytorch.load_model(str(model_dir), map_location="cpu")
    # A pickled nn.Module needs eval mode (dropout, batch norm); an exported 'pt2' graph is already inference-only
    # and refuses `eval()`.
    with contextlib.suppress(NotImplementedError):
        model.eval()
    facts = read_model_facts(model_dir)
    classes = facts.classes if facts.pyfunc_output == "probabilities" and facts.classes else None
    labels = np.asarray(classes) if classes is not None else None

    def run(values: np.ndarray, columns: tuple[str, ...] | None) -> Output:
        with torch.no_grad():
            out = model(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))).numpy()
        if labels is not None:
            if out.ndim != 2 or out.shape[1] != len(labels):
                raise RuntimeError(
                    f"the model returned outputs of shape {list(out.shape)}, not probabilities of its "
                    f"{len(labels)} classes"
                )
            return labels[np.argmax(out, axis=1)], out
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return out, None

    return Predictor("pytorch", run, classes)


def _pyfunc(model_dir: Path) -> Predictor:
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(str(model_dir))

    def run(values: np.ndarray, columns: tuple[str, ...] | None) -> Output:
        frame = pd.DataFrame(values, columns=list(columns) if columns else None)
        out = model.predict(frame)
        if isinstance(out, pd.DataFrame | pd.Series):
            out = out.to_numpy()
        return np.asarray(out), None

    return Predictor("pyfunc", run, None)
