import csv
import io
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from rich.console import Console

from training.cli import summary_table
from training.spec import load_spec
from training.sweep import TRIALS_PLOT, TRIALS_TABLE, SweepOutcome, _log_trials
from training.tracking import TrackingContext
from training.trial_records import TrialRecord

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "training"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sweep_run(tmp_path):
    """An active parent run in a local MLflow store, as `run_sweep` has one open while it plots."""
    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.create_experiment("trials-unit", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment_id) as run:
        yield TrackingContext(
            tracking_uri=uri,
            experiment_id=experiment_id,
            sweep_run_id=run.info.run_id,
            dataset_sha256="a" * 64,
            git_commit="abc123",
        )
    mlflow.set_tracking_uri(previous)


def wine_records() -> list[TrialRecord]:
    def params(units):
        return {"hidden_units": units, "hidden_layers": 1, "learning_rate": 0.01, "weight_decay": 0.0001}

    return [
        TrialRecord(index=1, trial_id="w_00000", params=params(32), metric=0.9, iterations=8, status="completed"),
        TrialRecord(index=2, trial_id="w_00001", params=params(16), metric=0.6, iterations=2, status="early_stopped"),
    ]


def test_the_plot_and_table_go_to_the_sweep_run_and_the_console_says_where(sweep_run, tmp_path):
    spec = load_spec(CONFIGS / "wine-pytorch.yaml")
    out = io.StringIO()
    uri = _log_trials(spec, wine_records(), "w_00000", sweep_run, Console(file=out, width=500))
    run_id = sweep_run.sweep_run_id
    artifacts = (tmp_path / "artifacts").as_uri()
    assert uri == f"{artifacts}/{run_id}/artifacts/{TRIALS_PLOT}"
    assert out.getvalue() == f"trials plot {uri} (artifacts of the sweep run at {sweep_run.tracking_uri})\n"
    client = MlflowClient(tracking_uri=sweep_run.tracking_uri)
    assert sorted(f.path for f in client.list_artifacts(run_id, "sweep")) == [TRIALS_TABLE, TRIALS_PLOT]
    png = Path(client.download_artifacts(run_id, TRIALS_PLOT, str(tmp_path / "down"))).read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    table = Path(client.download_artifacts(run_id, TRIALS_TABLE, str(tmp_path / "down"))).read_text()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [(r["trial_id"], r["status"], r["iterations"], r["accuracy"], r["hidden_units"]) for r in rows] == [
        ("w_00000", "completed", "8", "0.9", "32"),
        ("w_00001", "early_stopped", "2", "0.6", "16"),
    ]


def test_the_summary_names_early_stops_and_the_plot():
    outcome = SweepOutcome(
        experiment="wine-pytorch",
        sweep_run_id="run-1",
        trials=6,
        failed_trials=0,
        early_stopped_trials=3,
        trials_plot_uri="mlflow-artifacts:/1/run-1/artifacts/sweep/trials.png",
        best_trial_id="w_00000",
        best_valid_score=0.9,
        trial_durations_s=[1.0],
        tune_wall_s=10.0,
        startup_s=1.0,
    )
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(outcome, "accuracy"))
    lines = out.getvalue().splitlines()
    assert any("trials" in line and "6 (0 failed, 3 stopped early)" in line for line in lines)
    plot = "mlflow-artifacts:/1/run-1/artifacts/sweep/trials.png"
    assert any("trials plot" in line and plot in line for line in lines)
