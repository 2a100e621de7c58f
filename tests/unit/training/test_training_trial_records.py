import math
from dataclasses import dataclass

from training.trial_records import TrialRecord, records_csv, status_counts, trial_records


@dataclass(frozen=True)
class FakeResult:
    """A `tune.Result` as a `ResultGrid` yields it: `metrics` is the trial's last result (with Tune's own keys and
    the trial's `config`), `error` what it raised."""

    metrics: dict | None
    error: BaseException | None = None


def last_result(trial_id, iteration, log_loss, done, **config):
    return {
        "log_loss": log_loss,
        "accuracy": 0.9,
        "iteration": iteration,
        "training_iteration": iteration,
        "trial_id": trial_id,
        "done": done,
        "time_total_s": 1.5,
        "config": config,
    }


GRID = [
    FakeResult(last_result("t_00000", 4, 0.30, True, learning_rate=0.1, max_depth=3)),  # ran to max_t
    FakeResult(last_result("t_00001", 1, 0.66, True, learning_rate=0.001, max_depth=None)),  # ASHA cut it
    FakeResult(last_result("t_00002", 2, 0.50, False, learning_rate=0.01, max_depth=2)),  # time budget cut it
    FakeResult(last_result("t_00003", 1, 0.70, False, learning_rate=0.2, max_depth=4), error=RuntimeError("boom")),
    FakeResult({}),  # created, never started before the time budget ran out
    FakeResult(last_result("t_00005", 3, math.nan, True, learning_rate=0.3, max_depth=3)),
]


def test_records_say_how_each_trial_ended():
    records = trial_records(GRID, "log_loss", early_stops={"t_00001": 1})
    assert records == [
        TrialRecord(
            index=1,
            trial_id="t_00000",
            params={"learning_rate": 0.1, "max_depth": 3},
            metric=0.30,
            iterations=4,
            status="completed",
        ),
        TrialRecord(
            index=2,
            trial_id="t_00001",
            params={"learning_rate": 0.001, "max_depth": None},
            metric=0.66,
            iterations=1,
            status="early_stopped",
        ),
        TrialRecord(
            index=3,
            trial_id="t_00002",
            params={"learning_rate": 0.01, "max_depth": 2},
            metric=0.50,
            iterations=2,
            status="cut",
        ),
        TrialRecord(
            index=4,
            trial_id="t_00003",
            params={"learning_rate": 0.2, "max_depth": 4},
            metric=0.70,
            iterations=1,
            status="failed",
        ),
        TrialRecord(index=5, trial_id="(not started)", params={}, metric=None, iterations=0, status="cut"),
        TrialRecord(
            index=6,
            trial_id="t_00005",
            params={"learning_rate": 0.3, "max_depth": 3},
            metric=None,  # NaN is no score
            iterations=3,
            status="completed",
        ),
    ]
    assert [r.early_stopped for r in records] == [False, True, False, False, False, False]
    assert status_counts(records) == {"completed": 2, "early_stopped": 1, "cut": 2, "failed": 1}


def test_without_the_schedulers_record_no_trial_is_early_stopped():
    # Tune marks ASHA's cuts done=True like full runs: the iterations alone do not make an early stop.
    records = trial_records(GRID[:2], "log_loss", early_stops={})
    assert [r.status for r in records] == ["completed", "completed"]


def test_records_csv_has_one_row_per_trial_and_a_column_per_searched_param():
    records = trial_records(GRID, "log_loss", early_stops={"t_00001": 1})
    assert records_csv(records, "log_loss", ["learning_rate", "max_depth"]).splitlines() == [
        "index,trial_id,status,iterations,log_loss,learning_rate,max_depth",
        "1,t_00000,completed,4,0.3,0.1,3",
        "2,t_00001,early_stopped,1,0.66,0.001,null",
        "3,t_00002,cut,2,0.5,0.01,2",
        "4,t_00003,failed,1,0.7,0.2,4",
        "5,(not started),cut,0,,,",
        "6,t_00005,completed,3,,0.3,3",
    ]
