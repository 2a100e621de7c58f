"""Scoring the current champion on the candidate's holdout, so the gate compares like with like."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from rayship.errors import ModelNotFoundError, UnavailableError
from registry.api import download_verified, resolve
from registry.errors import AliasNotFoundError
from registry.model_facts import read_model_facts
from training.datasets import Splits
from training.gate import ChampionScore
from training.scoring import score
from training.trainers import trainer_for


def score_champion(
    model_name: str, alias: str, metric: str, splits: Splits, client: MlflowClient
) -> ChampionScore | None:
    """The champion's `metric` on `splits.x_test`; None when no version holds `alias` yet.

    The champion is downloaded with digest verification and loaded with its native flavour. Any failure to score
    it (tampered artifacts, different features or classes) is returned as an error the gate fails on, except an
    unreachable MLflow, which stops the sweep.
    """
    try:
        pinned = resolve(f"{model_name}@{alias}", client=client)
    except (AliasNotFoundError, ModelNotFoundError):
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="rayship-champion-") as tmp:
            model_dir = download_verified(pinned, Path(tmp), client=client)
            facts = read_model_facts(model_dir)
            model = getattr(mlflow, facts.flavor).load_model(str(model_dir))
            features = splits.x_test[facts.input_names] if facts.input_names else splits.x_test
            proba = trainer_for(facts.flavor).predict_proba(model, features)
        value = score(splits.y_test, proba, splits.classes)[metric]
        return ChampionScore(label=str(pinned), score=value)
    except UnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to score is a gate failure, recorded with its reason
        return ChampionScore(label=str(pinned), score=None, error=f"{type(exc).__name__}: {exc}")
