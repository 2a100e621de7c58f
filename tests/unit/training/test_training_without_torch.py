"""PyTorch is an optional extra (`rayship[torch]`): where torch is not installed, every training module imports,
scikit-learn and XGBoost models train (and log), and a PyTorch sweep fails before Ray starts, naming the extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.without_torch import BLOCK_TORCH

REPO = Path(__file__).resolve().parents[3]

TRAIN_WITHOUT_TORCH = """
import contextlib
import io
import json
import pkgutil
import sys
from pathlib import Path

import training

# The PyTorch trainer's own module needs torch; only `trainer_for("pytorch")` imports it, after checking for it.
SKIPPED = ("training.__main__", "training.trainers.pytorch_trainer")
for module in pkgutil.walk_packages(training.__path__, "training."):
    if module.name not in SKIPPED:
        __import__(module.name)
imported_torch = "torch" in sys.modules

import mlflow
import ray

from training.cli import main
from training.datasets import load_table, split
from training.spec import DatasetSpec, SplitSpec, load_spec
from training.trainers import FitJob, trainer_for

tmp = Path(sys.argv[1])
splits = split(load_table(DatasetSpec(name="iris")), SplitSpec())
fitted = {}
for framework, estimator, params in (
    ("sklearn", "random_forest", {"n_estimators": 5}),
    ("xgboost", "xgb_classifier", {"n_estimators": 3}),
):
    trainer = trainer_for(framework)
    model = trainer.fit(FitJob(estimator=estimator, params=params, splits=splits, seed=0))
    fitted[framework] = trainer.predict_proba(model, splits.x_valid).shape[1]
mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
experiment = mlflow.create_experiment("no-torch", artifact_location=(tmp / "artifacts").as_uri())
with mlflow.start_run(experiment_id=experiment):
    forest = trainer_for("sklearn")
    model = forest.fit(FitJob(estimator="random_forest", params={"n_estimators": 5}, splits=splits, seed=0))
    logged = forest.log_model(model, name="model", features=splits.x_train, metadata={"rayship": {}})


def refusal(call):
    try:
        call()
    except Exception as exc:
        return [type(exc).__name__, exc.status_code, str(exc)]
    return None


stderr = io.StringIO()
with contextlib.redirect_stderr(stderr):
    exit_code = main(["sweep", "--config", "configs/training/wine-pytorch.yaml", "--no-mlflow"])
print(json.dumps({
    "imported_torch": imported_torch or "torch" in sys.modules,
    "classes": fitted,
    "logged": sorted(logged.flavors),
    "sklearn_spec": load_spec(Path("configs/training/iris-sklearn.yaml")).trainer.framework,
    "trainer_for": refusal(lambda: trainer_for("pytorch")),
    "load_spec": refusal(lambda: load_spec(Path("configs/training/wine-pytorch.yaml"))),
    "cli": [exit_code, stderr.getvalue().strip(), ray.is_initialized()],
}))
"""

MESSAGE = "Cannot train a pytorch model: this environment has no torch; pip install 'rayship[torch]'"


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What the script above found, in one fresh interpreter for the module (its imports take seconds)."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + TRAIN_WITHOUT_TORCH, str(tmp_path_factory.mktemp("no-torch"))],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_without_torch_sklearn_and_xgboost_train_and_a_pytorch_sweep_names_the_extra(without_torch: dict) -> None:
    assert without_torch["imported_torch"] is False
    assert without_torch["classes"] == {"sklearn": 3, "xgboost": 3}
    assert "sklearn" in without_torch["logged"]
    assert without_torch["sklearn_spec"] == "sklearn"
    assert without_torch["trainer_for"] == ["FrameworkNotInstalledError", 500, MESSAGE]
    assert without_torch["load_spec"] == ["FrameworkNotInstalledError", 500, MESSAGE]
    exit_code, _, ray_started = without_torch["cli"]
    assert (exit_code, ray_started) == (1, False)  # the spec failed before Ray, so before any trial


def test_without_torch_the_sweep_cli_prints_the_whole_message(without_torch: dict) -> None:
    assert without_torch["cli"][1] == f"error: {MESSAGE}"
