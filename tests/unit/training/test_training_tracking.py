import pickle
from dataclasses import dataclass, field

import pytest
from mlflow import MlflowClient

from training.sweep import run_address
from training.tracking import EARLY_STOPPED_TAG, ITERATIONS_TAG, PARENT_TAG, TrackingContext, TrialLogger
from training.tuner import Interrupt


@dataclass
class FakeTrial:
    """The attributes of a Tune `Trial` the logger reads."""

    trial_id: str
    config: dict = field(default_factory=dict)
    last_result: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"run_trial_{self.trial_id}"


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


def trial_runs(client, context):
    runs = client.search_runs([context.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{context.sweep_run_id}'")
    return {run.data.tags["rayship.trial_id"]: run for run in runs}


def test_trials_become_nested_runs_with_params_history_and_lineage(sweep):
    client, context = sweep
    logger = TrialLogger(context, {"random_state": 0}, interrupted=lambda: False)
    trial = FakeTrial("t_00001", config={"max_depth": 3})
    logger.on_trial_start(0, [], trial)
    logger.on_trial_result(1, [], trial, {"accuracy": 0.5, "iteration": 1, "training_iteration": 1})
    logger.on_trial_result(2, [], trial, {"accuracy": 0.75, "iteration": 2, "training_iteration": 2})
    trial.last_result = {"accuracy": 0.75, "done": True}
    logger.on_trial_complete(2, [], trial)
    logger.close("KILLED")
    run = trial_runs(client, context)["t_00001"]
    assert run.info.run_name == "run_trial_t_00001"
    assert run.data.tags[PARENT_TAG] == context.sweep_run_id
    assert run.data.tags["rayship.sweep_id"] == context.sweep_run_id
    assert run.data.tags["rayship.dataset_sha256"] == "a" * 64
    assert run.data.tags["mlflow.source.git.commit"] == "abc123"
    assert EARLY_STOPPED_TAG not in run.data.tags
    assert run.data.tags[ITERATIONS_TAG] == "2"
    assert run.data.params == {"max_depth": "3", "random_state": "0"}
    history = client.get_metric_history(run.info.run_id, "valid_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    assert run.info.status == "FINISHED"
    assert logger.errors == []


class CountingClient(MlflowClient):
    """A real client that counts the requests the logger makes."""

    def __init__(self, tracking_uri):
        super().__init__(tracking_uri=tracking_uri)
        self.calls = []

    def create_run(self, *args, **kwargs):
        self.calls.append("create_run")
        return super().create_run(*args, **kwargs)

    def log_batch(self, *args, **kwargs):
        self.calls.append("log_batch")
        return super().log_batch(*args, **kwargs)

    def set_terminated(self, *args, **kwargs):
        self.calls.append("set_terminated")
        return super().set_terminated(*args, **kwargs)


def test_a_trial_costs_create_one_batch_per_report_and_end(sweep):
    client, context = sweep
    counting = CountingClient(context.tracking_uri)
    logger = TrialLogger(context, {"random_state": 0}, interrupted=lambda: False, client=counting)
    trial = FakeTrial("t_00001", config={"max_depth": 3})
    logger.on_trial_start(0, [], trial)
    logger.on_trial_result(1, [], trial, {"accuracy": 0.5, "iteration": 1})
    trial.last_result = {"accuracy": 0.5, "done": True}
    logger.on_trial_complete(1, [], trial)
    logger.close("KILLED")
    # The params wait for the first scores and go out with them; the end sends nothing left over.
    assert counting.calls == ["create_run", "log_batch", "set_terminated"]
    run = trial_runs(client, context)["t_00001"]
    assert run.data.params == {"max_depth": "3", "random_state": "0"}
    assert run.data.metrics == {"valid_accuracy": 0.5}
    assert run.info.status == "FINISHED"


def test_buffered_data_is_sent_before_every_kind_of_end(sweep):
    client, context = sweep
    interrupt = Interrupt()
    early_stops = {}  # the scheduler's record, filled in as the sweep runs
    logger = TrialLogger(context, {"seed": 1}, interrupted=interrupt.event.is_set, early_stops=early_stops)
    silent, stopped, killed = FakeTrial("silent"), FakeTrial("stopped"), FakeTrial("killed")
    for trial in (silent, stopped, killed):
        logger.on_trial_start(0, [], trial)
    logger.on_trial_error(1, [], silent)  # failed before its first report
    logger.on_trial_result(1, [], stopped, {"accuracy": 0.25, "iteration": 1, "training_iteration": 1})
    early_stops["stopped"] = 1
    stopped.last_result = {"accuracy": 0.25, "done": True}
    logger.on_trial_complete(1, [], stopped)
    logger.on_trial_result(1, [], killed, {"accuracy": 0.75, "iteration": 1, "training_iteration": 1})
    interrupt.event.set()
    logger.close("KILLED")
    runs = trial_runs(client, context)
    assert {key: run.info.status for key, run in runs.items()} == {
        "silent": "FAILED",
        "stopped": "FINISHED",
        "killed": "KILLED",
    }
    assert all(run.data.params == {"seed": "1"} for run in runs.values())
    assert runs["stopped"].data.tags[EARLY_STOPPED_TAG] == "true"
    assert runs["stopped"].data.metrics == {"valid_accuracy": 0.25}
    assert runs["killed"].data.metrics == {"valid_accuracy": 0.75}
    assert {key: run.data.tags.get(ITERATIONS_TAG) for key, run in runs.items()} == {
        "silent": None,  # it never reported
        "stopped": "1",
        "killed": "1",
    }
    assert EARLY_STOPPED_TAG not in runs["killed"].data.tags
    assert logger.errors == []


def test_run_address_is_the_ui_page_for_a_server_and_the_uri_for_a_local_store(sweep):
    _, context = sweep
    served = context.model_copy(update={"tracking_uri": "http://127.0.0.1:5000/"})
    assert (
        run_address(served)
        == f"http://127.0.0.1:5000/#/experiments/{context.experiment_id}/runs/{context.sweep_run_id}"
    )
    assert run_address(context) == context.tracking_uri


def test_final_statuses_early_stop_failure_and_leftovers(sweep):
    client, context = sweep
    logger = TrialLogger(context, {}, interrupted=lambda: False, early_stops={"stopped": 1})
    stopped, full, crashed, cut = FakeTrial("stopped"), FakeTrial("full"), FakeTrial("crashed"), FakeTrial("cut")
    for trial in (stopped, full, crashed, cut):
        logger.on_trial_start(0, [], trial)
        logger.on_trial_result(1, [], trial, {"accuracy": 0.1, "iteration": 1, "training_iteration": 1})
    logger.on_trial_result(2, [], full, {"accuracy": 0.2, "iteration": 2, "training_iteration": 2})
    logger.on_trial_result(2, [], cut, {"accuracy": 0.2, "iteration": 2, "training_iteration": 2})
    # Tune sets done=True on any trial it stops, ASHA's early stops included: only the scheduler's record tells.
    stopped.last_result = {"accuracy": 0.1, "done": True, "training_iteration": 1}
    full.last_result = {"accuracy": 0.2, "done": True, "training_iteration": 2}
    logger.on_trial_complete(1, [], stopped)
    logger.on_trial_complete(2, [], full)
    logger.on_trial_error(1, [], crashed)
    logger.close("FINISHED")  # the time budget ended the sweep with `cut` still running
    runs = trial_runs(client, context)
    assert {key: run.info.status for key, run in runs.items()} == {
        "stopped": "FINISHED",
        "full": "FINISHED",
        "crashed": "FAILED",
        "cut": "FINISHED",
    }
    assert {key: EARLY_STOPPED_TAG in run.data.tags for key, run in runs.items()} == {
        "stopped": True,
        "full": False,
        "crashed": False,
        "cut": False,
    }
    assert runs["stopped"].data.tags[EARLY_STOPPED_TAG] == "true"
    assert {key: run.data.tags[ITERATIONS_TAG] for key, run in runs.items()} == {
        "stopped": "1",
        "full": "2",
        "crashed": "1",
        "cut": "2",
    }


def test_an_interrupt_kills_completed_and_open_trials(sweep):
    client, context = sweep
    interrupt = Interrupt()
    logger = TrialLogger(context, {}, interrupted=interrupt.event.is_set)
    first, second = FakeTrial("first"), FakeTrial("second")
    logger.on_trial_start(0, [], first)
    logger.on_trial_start(0, [], second)
    interrupt.event.set()
    logger.on_trial_complete(1, [], first)  # Tune stops trials when the stopper fires
    logger.close("KILLED")
    assert {k: r.info.status for k, r in trial_runs(client, context).items()} == {
        "first": "KILLED",
        "second": "KILLED",
    }


def test_logger_pickles_without_its_thread_or_client(sweep):
    _, context = sweep
    logger = TrialLogger(context, {"a": 1}, interrupted=lambda: True, early_stops={"x": 1})
    logger.on_trial_start(0, [], FakeTrial("x"))
    copy = pickle.loads(pickle.dumps(logger))
    assert copy._executor is None and copy._interrupted() is False
    assert copy._early_stops == {}  # the scheduler's live record stays with the driver's logger
    logger.close("KILLED")


def test_interrupt_stopper_stops_all_once_signalled_and_pickles_fresh():
    stopper = Interrupt()
    assert not stopper.stop_all()
    stopper._handle(2, None)
    assert stopper.stop_all() and stopper("trial", {})
    with pytest.raises(KeyboardInterrupt):
        stopper._handle(2, None)
    assert not pickle.loads(pickle.dumps(stopper)).stop_all()
