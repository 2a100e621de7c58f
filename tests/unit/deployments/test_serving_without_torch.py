"""PyTorch is an optional extra (`rayship[torch]`): where torch is not installed, every serving module imports, a
scikit-learn version loads and predicts, and a PyTorch version's load fails with an error naming the extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from tests.unit.without_torch import BLOCK_TORCH

REPO = Path(__file__).resolve().parents[3]
X, Y = load_iris(return_X_y=True)

# Imports every serving module, serves the forest, then tries the PyTorch version both ways a replica loads one.
SERVE_WITHOUT_TORCH = """
import json
import pkgutil
import sys
from pathlib import Path

import deployments

for module in pkgutil.walk_packages(deployments.__path__, "deployments."):
    if not module.name.endswith("__main__"):
        __import__(module.name)
imported_torch = "torch" in sys.modules

import numpy as np
import yaml

from deployments.predictors import load_predictor
from deployments.types import Features
from deployments.version_app import LoadedModel, VersionPredictor


class NoSizes:
    def observe(self, value):
        pass


forest, mlp = Path(sys.argv[1]), Path(sys.argv[2])
version = VersionPredictor(LoadedModel("iris", "3", forest), NoSizes())
(answer,) = version.predict_many([Features(np.array(json.loads(sys.argv[3])))])


def refusal(load):
    try:
        load()
    except Exception as exc:
        return [type(exc).__name__, exc.status_code, str(exc)]
    return None


flavors = yaml.safe_load((mlp / "MLmodel").read_text())["flavors"]
print(json.dumps({
    "imported_torch": imported_torch or "torch" in sys.modules,
    "predictions": answer.predictions,
    "probabilities": answer.probabilities,
    "load_predictor": refusal(lambda: load_predictor(mlp, flavors, model_uri="models:/wine-mlp/4")),
    "loaded_model": refusal(lambda: LoadedModel("wine-mlp", "4", mlp)),
}))
"""

# The MLmodel file `mlflow.pytorch.save_model` writes, in part: enough to be a PyTorch version without torch here.
PYTORCH_MLMODEL = """\
flavors:
  python_function:
    data: data
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.pytorch
    pickle_module_name: mlflow.pytorch.pickle_module
    python_version: 3.11.0
  pytorch:
    code: null
    model_data: data
    pytorch_version: 2.13.0
    serialization_format: pickle
mlflow_version: 3.0.0
metadata:
  rayship:
    flavor: pytorch
    classes: [0, 1, 2]
    pyfunc_output: probabilities
"""


def test_without_torch_a_sklearn_version_serves_and_a_pytorch_version_names_the_extra(tmp_path: Path) -> None:
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    # As rayship's scikit-learn trainer logs it: skops, with a signature.
    mlflow.sklearn.save_model(
        model,
        tmp_path / "forest",
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        signature=mlflow.models.infer_signature(X, Y),
        pip_requirements=["scikit-learn"],
    )
    (tmp_path / "mlp").mkdir()
    (tmp_path / "mlp" / "MLmodel").write_text(PYTORCH_MLMODEL)
    rows = X[[0, 60, 120]]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_TORCH + SERVE_WITHOUT_TORCH,
            str(tmp_path / "forest"),
            str(tmp_path / "mlp"),
            json.dumps(rows.tolist()),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["imported_torch"] is False
    assert result["predictions"] == model.predict(rows).tolist()
    assert result["probabilities"] == model.predict_proba(rows).tolist()
    advice = "it is a pytorch model and this environment has no torch; pip install 'rayship[torch]'"
    expected = f"Cannot serve 'models:/wine-mlp/4': {advice}"
    assert result["load_predictor"] == ["FrameworkNotInstalledError", 500, expected]
    # A replica's load: a RayshipError, so `load_version` passes it on as it is and that version's deploy fails.
    assert result["loaded_model"] == ["FrameworkNotInstalledError", 500, expected]
