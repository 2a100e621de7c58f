"""The trial scheduler of a sweep spec, and which trials it stopped early.

Tune does not say why a trial ended: a trial ASHA cuts at a rung and one that ran its whole budget both end with
`done=True` in their last result (the controller sets it on any STOP decision). Only the scheduler knows which STOP
was a cut, so ASHA here records its own decisions: a STOP on a report before `max_t` is an early stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from training.spec import SchedulerSpec

# ASHA counts a trial's reports (one per `report_every` rounds/epochs), as `max_t` and `grace_period` do.
TIME_ATTR = "training_iteration"


class RecordingASHA(ASHAScheduler):
    """ASHA that remembers the trials it stopped before `max_t`, and the iteration each one reached."""

    def __init__(self, *, max_t: int, grace_period: int, reduction_factor: float) -> None:
        super().__init__(time_attr=TIME_ATTR, max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor)
        self.budget = max_t
        # Trial id -> the iteration ASHA stopped it at. Written and read on Tune's driver loop only (the scheduler
        # and the callbacks run there), so it needs no lock.
        self.stopped_early: dict[str, int] = {}

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        iteration = result.get(TIME_ATTR)
        if decision == TrialScheduler.STOP and iteration is not None and iteration < self.budget:
            self.stopped_early[trial.trial_id] = int(iteration)
        return decision


def build_scheduler(spec: SchedulerSpec) -> TrialScheduler:
    """FIFO, or ASHA over reports (`training_iteration`) recording its early stops."""
    if spec.type == "asha":
        return RecordingASHA(max_t=spec.max_t, grace_period=spec.grace_period, reduction_factor=spec.reduction_factor)
    return FIFOScheduler()


def early_stops(scheduler: TrialScheduler) -> Mapping[str, int]:
    """The live record of trials `scheduler` stopped early (trial id -> iteration); empty for one that never does.

    The mapping fills in as the sweep runs: callbacks can hold it from the start.
    """
    return scheduler.stopped_early if isinstance(scheduler, RecordingASHA) else {}
