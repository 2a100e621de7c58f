"""Small sweeps against the integration tier's cluster: its Ray head and its real `mlflow server`."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from registry.connection import connect
from training.spec import SweepSpec, load_spec
from training.sweep import SweepOutcome

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


@pytest.fixture
def sweep(cluster, tmp_path):
    """Run `python -m training sweep --register --alias ALIAS --json` on the cluster and parse its outcome.

    A subprocess, like a user's shell: Ray reads RAY_AUTH_MODE and the token when it is imported, which in this
    pytest process happened before the cluster fixture exported them.
    """

    def run(spec: SweepSpec, alias: str) -> SweepOutcome:
        config = tmp_path / f"{spec.model_name}-{uuid.uuid4().hex[:6]}.yaml"
        config.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
        argv = ["sweep", "--config", str(config), "--register", "--alias", alias, "--json"]
        done = subprocess.run([sys.executable, "-m", "training", *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return SweepOutcome.model_validate_json(done.stdout.strip().splitlines()[-1])

    return run
