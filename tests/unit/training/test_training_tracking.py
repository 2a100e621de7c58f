import pickle

import pytest
from mlflow import MlflowClient

from training.tracking import EARLY_STOPPED_TAG, TrackingContext, TrialRun, close_trial_runs
from training.tuner import Interrupt


@pytest.fixture
def sweep(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("tracking-unit", artifact_location=(tmp_path / "a").as_uri())
    parent = client.create_run(experiment_id, run_name="sweep")
    context = TrackingContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        sweep_run_id=parent.info.run_id,
        dataset_sha256="a" * 64,
        git_commit="abc123",
    )
    return client, context


def test_trial_runs_nest_under_the_sweep_with_lineage(sweep):
    client, context = sweep
    trial = TrialRun.start(context, "t_00001", "trial-1", {"max_depth": 3})
    trial.log(1, {"accuracy": 0.5})
    trial.log(2, {"accuracy": 0.75})
    trial.finish()
    run = client.get_run(trial.run_id)
    assert run.data.tags["mlflow.parentRunId"] == context.sweep_run_id
    assert run.data.tags["rayship.trial_id"] == "t_00001"
    assert run.data.tags["rayship.sweep_id"] == context.sweep_run_id
    assert run.data.tags["rayship.dataset_sha256"] == "a" * 64
    assert run.data.tags["mlflow.source.git.commit"] == "abc123"
    assert run.data.params == {"max_depth": "3"}
    history = client.get_metric_history(trial.run_id, "valid_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    assert run.info.status == "FINISHED"


def test_closing_marks_unfinished_trials(sweep):
    client, context = sweep
    done = TrialRun.start(context, "t_done", "done", {})
    done.finish()
    stopped = TrialRun.start(context, "t_stopped", "stopped", {})
    crashed = TrialRun.start(context, "t_crashed", "crashed", {})
    close_trial_runs(client, context.experiment_id, context.sweep_run_id, "FINISHED", errored={"t_crashed"})
    assert client.get_run(done.run_id).info.status == "FINISHED"
    assert EARLY_STOPPED_TAG not in client.get_run(done.run_id).data.tags
    assert client.get_run(stopped.run_id).info.status == "FINISHED"
    assert client.get_run(stopped.run_id).data.tags[EARLY_STOPPED_TAG] == "true"
    assert client.get_run(crashed.run_id).info.status == "FAILED"


def test_interrupt_kills_every_running_trial(sweep):
    client, context = sweep
    running = [TrialRun.start(context, f"t_{i}", f"trial-{i}", {}) for i in range(2)]
    close_trial_runs(client, context.experiment_id, context.sweep_run_id, "KILLED", errored=set())
    assert [client.get_run(r.run_id).info.status for r in running] == ["KILLED", "KILLED"]


def test_logging_off_is_a_no_op():
    context = TrackingContext(tracking_uri=None, dataset_sha256="a" * 64, git_commit="x")
    trial = TrialRun.start(context, "t", "t", {"a": 1})
    trial.log(1, {"accuracy": 1.0})
    trial.finish()
    assert trial.run_id is None


def test_interrupt_stopper_stops_all_once_signalled_and_pickles_fresh():
    stopper = Interrupt()
    assert not stopper.stop_all()
    stopper._handle(2, None)
    assert stopper.stop_all() and stopper("trial", {})
    with pytest.raises(KeyboardInterrupt):
        stopper._handle(2, None)
    assert not pickle.loads(pickle.dumps(stopper)).stop_all()
