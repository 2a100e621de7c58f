"""Tiny sweeps of the shipped training specs on the integration tier's cluster, shared by every directory's fixtures.

Plain functions (no fixtures here): `tests/integration/conftest.py` builds the session's `framework_winner` on them,
and `tests/integration/training/conftest.py` its per-test `tiny_spec` and `sweep`. Nothing here imports Ray
(`training.sweep` does): the integration conftest imports this module before it sets Ray's auth mode.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from registry.api import PinnedVersion
from training.spec import SweepSpec, load_spec

if TYPE_CHECKING:
    from training.sweep import SweepOutcome

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "training"
# The flavour each shipped framework spec trains, with its dataset: what the live framework tests serve.
FRAMEWORK_CONFIGS = {
    "sklearn": "iris-sklearn.yaml",
    "xgboost": "breast-cancer-xgboost.yaml",
    "pytorch": "wine-pytorch.yaml",
}
WINNER_ALIAS = "challenger"  # the alias a framework sweep registers its winner under


def shrink_spec(config: str, **overrides: object) -> SweepSpec:
    """A shipped spec shrunk to two trials, with its own experiment and model name so tests never collide."""
    spec = load_spec(CONFIGS / config)
    unique = f"it-{spec.model_name}-{uuid.uuid4().hex[:8]}"
    update = {"experiment": unique, "model_name": unique, "num_samples": 2, "time_budget_s": 600.0}
    return spec.model_copy(update={**update, **overrides})


def run_sweep_cli(spec: SweepSpec, alias: str, workdir: Path) -> SweepOutcome:
    """Run `python -m training sweep --register --alias ALIAS --json` on the cluster and parse its outcome.

    A subprocess, like a user's shell: Ray reads RAY_AUTH_MODE and the token when it is imported, which in this
    pytest process happened before the cluster fixture exported them.
    """
    from training.sweep import SweepOutcome

    config = workdir / f"{spec.model_name}-{uuid.uuid4().hex[:6]}.yaml"
    config.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    argv = ["sweep", "--config", str(config), "--register", "--alias", alias, "--json"]
    done = subprocess.run([sys.executable, "-m", "training", *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return SweepOutcome.model_validate_json(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class FrameworkWinner:
    """One framework's tiny sweep, run once per session: its spec, outcome and registered (pinned) winner."""

    flavor: str
    spec: SweepSpec
    outcome: SweepOutcome

    @property
    def pinned(self) -> PinnedVersion:
        assert self.outcome.registration is not None, "the sweep registered no version"
        return self.outcome.registration.pinned
