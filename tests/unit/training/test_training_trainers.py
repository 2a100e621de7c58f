import subprocess
import sys

import mlflow
import numpy as np
import pytest

from training.datasets import load_table, split
from training.scoring import score
from training.spec import DatasetSpec, SplitSpec
from training.trainers import FitJob, trainer_for
from training.trainers.base import INPUT_EXAMPLE_ROWS


@pytest.fixture(scope="module")
def splits():
    return split(load_table(DatasetSpec(name="iris")), SplitSpec())


def job(splits, reports=None, **fields):
    report = None if reports is None else (lambda iteration, scores: reports.append((iteration, scores)))
    return FitJob(**{"estimator": "", "params": {}, "splits": splits, "seed": 0, "report": report, **fields})


def test_validation_scores_are_the_scores_of_the_validation_split(splits):
    proba = np.tile([0.2, 0.5, 0.3], (len(splits.y_valid), 1))
    assert job(splits).validation_scores(proba) == score(splits.y_valid, proba, splits.classes)


def test_report_step_reports_every_nth_step_and_predicts_only_then(splits):
    reports, predicted = [], []
    proba = np.tile([0.6, 0.3, 0.1], (len(splits.y_valid), 1))

    def predict_valid():
        predicted.append(True)
        return proba

    fit = job(splits, reports, report_every=3)
    for step in range(1, 8):
        fit.report_step(step, predict_valid)
    assert [iteration for iteration, _ in reports] == [1, 2]
    assert len(predicted) == 2
    assert reports[0][1] == fit.validation_scores(proba)


def test_report_step_without_a_listener_never_predicts(splits):
    fit = job(splits, report_every=1)
    fit.report_step(1, lambda: pytest.fail("predicted although nobody listens"))


@pytest.mark.parametrize(
    ("framework", "estimator", "params", "iterations"),
    [
        ("sklearn", "random_forest", {"n_estimators": 10}, [1]),
        ("sklearn", "logistic_regression", {}, [1]),
        ("xgboost", "xgb_classifier", {"n_estimators": 6}, [1, 2]),
        ("pytorch", "mlp", {"epochs": 6}, [1, 2]),
    ],
)
def test_every_trainer_reports_validation_scores_of_the_model_it_returns(
    splits, framework, estimator, params, iterations
):
    reports = []
    trainer = trainer_for(framework)
    fit = job(splits, reports, estimator=estimator, params=params, report_every=3)
    model = trainer.fit(fit)
    assert [iteration for iteration, _ in reports] == iterations
    # The last report saw every round/epoch, so it scores exactly the returned model.
    last = reports[-1][1]
    expected = fit.validation_scores(trainer.predict_proba(model, splits.x_valid))
    assert last == pytest.approx(expected)


@pytest.fixture
def tracking(tmp_path):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield mlflow.create_experiment("trainers", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_tracking_uri(previous)


@pytest.mark.parametrize(
    ("framework", "estimator", "params", "output_shape"),
    [("sklearn", "logistic_regression", {}, [-1]), ("pytorch", "mlp", {"epochs": 1}, [-1, 3])],
)
def test_log_model_records_the_native_flavour_signature_and_input_example(
    tracking, splits, framework, estimator, params, output_shape
):
    trainer = trainer_for(framework)
    model = trainer.fit(job(splits, estimator=estimator, params=params))
    with mlflow.start_run(experiment_id=tracking):
        info = trainer.log_model(model, name="model", features=splits.x_train, metadata={"rayship": {"k": 1}})
    assert framework in info.flavors
    assert info.metadata == {"rayship": {"k": 1}}
    assert info.signature.inputs.input_names() == [str(c) for c in splits.x_train.columns]
    assert list(info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"]) == output_shape
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    assert len(mlflow.models.Model.load(local).load_input_example(local)) == INPUT_EXAMPLE_ROWS


def test_trial_actors_do_not_import_mlflow_or_skops():
    # A fresh interpreter, as a trial actor is: only logging a model (in the driver) needs them.
    code = (
        "import sys, training.trial\n"
        "from training.trainers import trainer_for\n"
        "for framework in ('sklearn', 'xgboost', 'pytorch'):\n"
        "    trainer_for(framework)\n"
        "print(sorted(m for m in ('mlflow', 'skops') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.strip() == "[]"
