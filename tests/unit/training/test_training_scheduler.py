from dataclasses import dataclass

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from training.scheduler import RecordingASHA, build_scheduler, early_stops
from training.spec import SchedulerSpec

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


@dataclass(frozen=True)
class FakeTrial:
    """The attribute of a Tune `Trial` ASHA reads."""

    trial_id: str


def asha(**spec) -> RecordingASHA:
    scheduler = build_scheduler(SchedulerSpec(type="asha", **spec))
    scheduler.set_search_properties("log_loss", "min")  # what TuneConfig(metric=..., mode=...) does
    return scheduler


def report(scheduler, trial, iteration, log_loss):
    """One result as Tune's controller hands it to the scheduler (flattened, `done` not set yet)."""
    result = {"log_loss": log_loss, "training_iteration": iteration, "done": False, "trial_id": trial.trial_id}
    return scheduler.on_trial_result(None, trial, result)


def test_fifo_never_stops_early():
    scheduler = build_scheduler(SchedulerSpec(type="fifo"))
    assert type(scheduler) is FIFOScheduler
    assert early_stops(scheduler) == {}


def test_asha_is_built_from_the_spec_over_reports():
    scheduler = build_scheduler(SchedulerSpec(type="asha", grace_period=3, reduction_factor=3, max_t=12))
    assert isinstance(scheduler, RecordingASHA)
    assert (scheduler.budget, scheduler._max_t, scheduler._reduction_factor) == (12, 12, 3)
    assert scheduler._time_attr == "training_iteration"
    assert [milestone for milestone, _ in scheduler._brackets[0]._rungs] == [9, 3]


def test_asha_records_the_trials_it_stops_before_max_t_and_at_which_iteration():
    scheduler = asha(grace_period=1, reduction_factor=2, max_t=4)
    a, b, c = FakeTrial("a"), FakeTrial("b"), FakeTrial("c")
    for trial in (a, b, c):
        scheduler.on_trial_add(None, trial)
    stops = early_stops(scheduler)  # the live record: callbacks hold it from the start
    assert report(scheduler, a, 1, 0.50) == CONTINUE  # first at rung 1: nothing to compare with
    assert report(scheduler, b, 1, 0.60) == STOP  # worse than the rung's median
    assert stops == {"b": 1}
    assert [report(scheduler, a, i, 0.5 - i / 10) for i in (2, 3)] == [CONTINUE, CONTINUE]
    assert report(scheduler, c, 1, 0.45) == CONTINUE  # better than the median of a and b at rung 1
    assert report(scheduler, c, 2, 0.55) == STOP  # worse than a at rung 2
    assert report(scheduler, a, 4, 0.05) == STOP  # max_t: a ran its whole budget
    assert stops == {"b": 1, "c": 2}
    assert stops is scheduler.stopped_early
