"""ASHA on the shared cluster: a sweep whose weak trials it must stop early, their MLflow runs saying so, and the
trials plot and table on the sweep's run.

The search is over XGBoost's learning rate alone, from 1e-4 (a log loss that barely moves from 0.66) to 0.5; the
validation loss falls with the rate at every report, so the trials rank the same at every rung. Seed 5 samples
0.095 and 0.097 for the first two trials, then six rates between 0.00015 and 0.008. With two slots a third trial
starts only once one of the first two has ended, and grace_period 1 records every trial's first report: so the
first weak trial to report faces a rung holding only strong ones, and ASHA stops it (in practice most of the six),
whatever the timing. The strongest trial leads every rung, so it is never stopped, and wins. Trials train for
milliseconds; the sweep's cost is its start, two trial actors and the winner's refit (about 30-40 s on 2 cores).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import yaml

from training.spec import SweepSpec
from training.sweep import TRIALS_PLOT, TRIALS_TABLE, SweepOutcome
from training.tracking import EARLY_STOPPED_TAG, ITERATIONS_TAG, PARENT_TAG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_T = 4
TRIALS = 8


def asha_spec(tiny_spec) -> SweepSpec:
    """The shipped XGBoost spec, its own experiment, searching the learning rate under a short ASHA budget."""
    raw = tiny_spec("breast-cancer-xgboost.yaml").model_dump(mode="json")
    raw.update(
        trainer={
            "framework": "xgboost",
            "estimator": "xgb_classifier",
            "params": {"n_estimators": 2 * MAX_T},  # a report every 2 trees: max_t reports is the whole fit
            "report_every": 2,
        },
        search_space={"learning_rate": {"type": "loguniform", "low": 0.0001, "high": 0.5}},
        num_samples=TRIALS,
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2, "max_t": MAX_T},
        max_concurrent_trials=2,
        time_budget_s=300.0,
        seed=5,
    )
    return SweepSpec.model_validate(raw)


def run_sweep(spec: SweepSpec, workdir: Path) -> tuple[SweepOutcome, str]:
    """`python -m training sweep --json` (no registration: nothing here needs a version); outcome and stderr."""
    config = workdir / "asha.yaml"
    config.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    done = subprocess.run(
        [sys.executable, "-m", "training", "sweep", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return SweepOutcome.model_validate_json(done.stdout.strip().splitlines()[-1]), done.stderr


def test_asha_stops_weak_trials_early_and_the_sweep_run_plots_them(cluster, mlflow_client, tiny_spec, tmp_path):
    spec = asha_spec(tiny_spec)
    outcome, stderr = run_sweep(spec, tmp_path)

    trials = mlflow_client.search_runs(
        [mlflow_client.get_run(outcome.sweep_run_id).info.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{outcome.sweep_run_id}'",
    )
    seen = sorted(
        (float(t.data.params["learning_rate"]), t.data.tags.get(ITERATIONS_TAG), t.data.tags.get(EARLY_STOPPED_TAG))
        for t in trials
    )
    assert len(trials) == TRIALS, seen
    early = {t.info.run_id for t in trials if t.data.tags.get(EARLY_STOPPED_TAG) == "true"}
    assert early, f"ASHA stopped no trial early: (learning_rate, iterations, early_stopped) {seen}"
    assert outcome.early_stopped_trials == len(early)
    for trial in trials:
        assert trial.info.status == "FINISHED"
        iterations = int(trial.data.tags[ITERATIONS_TAG])
        # An early stop is before max_t; every other trial ran its whole budget (the time budget is far away).
        assert (iterations < MAX_T) if trial.info.run_id in early else (iterations == MAX_T), seen
        history = mlflow_client.get_metric_history(trial.info.run_id, f"valid_{spec.metric}")
        assert sorted(m.step for m in history) == list(range(1, iterations + 1))
    # The highest learning rate leads at every rung, so ASHA never stops it, and it wins.
    strongest = max(trials, key=lambda t: float(t.data.params["learning_rate"]))
    assert strongest.info.run_id not in early, seen
    assert strongest.data.tags["rayship.trial_id"] == outcome.best_trial_id, seen

    # The plot and its table sit on the sweep's run, and the CLI said where.
    assert outcome.trials_plot_uri is not None and outcome.trials_plot_uri.endswith(TRIALS_PLOT)
    assert f"trials plot {outcome.trials_plot_uri} (artifacts of the sweep run at http" in stderr
    listed = {f.path: f.file_size for f in mlflow_client.list_artifacts(outcome.sweep_run_id, "sweep")}
    assert set(listed) == {TRIALS_PLOT, TRIALS_TABLE}
    png = Path(mlflow_client.download_artifacts(outcome.sweep_run_id, TRIALS_PLOT, str(tmp_path))).read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    assert listed[TRIALS_PLOT] == len(png)
    table = Path(mlflow_client.download_artifacts(outcome.sweep_run_id, TRIALS_TABLE, str(tmp_path))).read_text()
    rows = {row["trial_id"]: row for row in csv.DictReader(io.StringIO(table))}
    by_trial = {t.data.tags["rayship.trial_id"]: t for t in trials}
    assert set(rows) == set(by_trial)
    for trial_id, row in rows.items():
        tags = by_trial[trial_id].data.tags
        assert row["status"] == ("early_stopped" if tags.get(EARLY_STOPPED_TAG) == "true" else "completed")
        assert row["iterations"] == tags[ITERATIONS_TAG]
