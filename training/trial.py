"""The Ray Tune trainable: fit one configuration, reporting validation scores to Tune and MLflow."""

from __future__ import annotations

from typing import Any

from ray import tune

from training.datasets import Splits
from training.spec import SweepSpec
from training.tracking import TrackingContext, TrialRun
from training.trainers import trainer_for


def run_trial(config: dict[str, Any], *, splits: Splits, spec: SweepSpec, tracking: TrackingContext) -> None:
    """Train `config` (merged over the spec's fixed params); every report goes to Tune and the trial's MLflow run."""
    context = tune.get_context()
    params = {**spec.trainer.params, **config}
    run = TrialRun.start(tracking, context.get_trial_id(), context.get_trial_name(), params)

    def report(iteration: int, scores: dict[str, float]) -> None:
        run.log(iteration, scores)
        tune.report({**scores, "iteration": iteration})

    try:
        trainer_for(spec.trainer.framework).fit(
            spec.trainer.estimator, params, splits, report, spec.trainer.report_every, spec.seed
        )
    except Exception:
        run.finish("FAILED")
        raise
    run.finish("FINISHED")
