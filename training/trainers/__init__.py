"""One trainer per framework behind one small interface (`base.Trainer`)."""

from __future__ import annotations

from training.spec import require_runtime
from training.trainers.base import FitJob, Trainer


def trainer_for(framework: str) -> Trainer:
    """The trainer of `framework`; imported lazily so a sklearn sweep never imports torch (an optional extra: asking
    for the PyTorch trainer without it raises `FrameworkNotInstalledError`, naming the extra)."""
    if framework == "sklearn":
        from training.trainers.sklearn_trainer import SklearnTrainer

        return SklearnTrainer()
    if framework == "xgboost":
        from training.trainers.xgboost_trainer import XGBoostTrainer

        return XGBoostTrainer()
    if framework == "pytorch":
        require_runtime(framework)
        from training.trainers.pytorch_trainer import PyTorchTrainer

        return PyTorchTrainer()
    raise ValueError(f"unknown framework '{framework}'")


__all__ = ["FitJob", "Trainer", "trainer_for"]
