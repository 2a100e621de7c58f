"""Small sweeps against the integration tier's cluster: its Ray head and its real `mlflow server`.

Per-test sweeps (`tiny_spec`, `sweep`) for tests that need their own; `framework_winner` (tests/integration/conftest.py)
gives each framework's sweep, run once per session.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from registry.connection import connect
from tests.integration.sweeps import run_sweep_cli, shrink_spec
from training.spec import SweepSpec
from training.sweep import SweepOutcome


@pytest.fixture
def mlflow_client(cluster) -> MlflowClient:
    return connect(cluster.mlflow_url)


@pytest.fixture
def tiny_spec():
    """A shipped spec shrunk to two trials, with its own experiment and model name so tests never collide."""
    return shrink_spec


@pytest.fixture
def sweep(cluster, tmp_path):
    """Run `python -m training sweep --register --alias ALIAS --json` on the cluster and parse its outcome."""

    def run(spec: SweepSpec, alias: str) -> SweepOutcome:
        return run_sweep_cli(spec, alias, tmp_path)

    return run
