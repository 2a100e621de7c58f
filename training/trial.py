"""The Ray Tune trainable: fit one configuration and report validation scores to Tune (MLflow logging happens in
the driver, see `tracking.TrialLogger`)."""

from __future__ import annotations

from typing import Any

from ray import tune
from threadpoolctl import threadpool_limits

from training.datasets import Splits
from training.spec import SweepSpec
from training.trainers import FitJob, trainer_for


def run_trial(config: dict[str, Any], *, splits: Splits, spec: SweepSpec) -> None:
    """Train `config` merged over the spec's fixed params; every report is `{<scores>, iteration}`."""
    params = {**spec.trainer.params, **config}

    def report(iteration: int, scores: dict[str, float]) -> None:
        tune.report({**scores, "iteration": iteration})

    job = FitJob(
        estimator=spec.trainer.estimator,
        params=params,
        splits=splits,
        seed=spec.seed,
        report=report,
        report_every=spec.trainer.report_every,
    )
    # One BLAS/OpenMP thread per trial, whatever the cluster's environment: trials already share few cores.
    with threadpool_limits(limits=1):
        trainer_for(spec.trainer.framework).fit(job)
