"""Small sweeps against the integration tier's cluster: its Ray head and its real `mlflow server`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from registry.connection import connect
from training.spec import SweepSpec, load_spec

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "training"


@pytest.fixture
def mlflow_client(cluster) -> MlflowClient:
    return connect(cluster.mlflow_url)


@pytest.fixture
def tiny_spec():
    """A shipped spec shrunk to two trials, with its own experiment and model name so tests never collide."""

    def shrink(config: str, **overrides) -> SweepSpec:
        spec = load_spec(CONFIGS / config)
        unique = f"it-{spec.model_name}-{uuid.uuid4().hex[:8]}"
        update = {"experiment": unique, "model_name": unique, "num_samples": 2, "time_budget_s": 600.0}
        return spec.model_copy(update={**update, **overrides})

    return shrink
