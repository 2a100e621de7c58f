"""Running one sweep end to end: data, MLflow parent run, Tune trials, the trials plot, winner, registration.

Every step that talks to Ray or MLflow is here; the decisions it applies (spec validation, the gate) are pure and
live elsewhere. An interrupt ends the runs as KILLED and registers nothing.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import mlflow
import ray
from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field
from ray import tune
from rich.console import Console

from registry.connection import connect
from registry.uri import validate_alias
from training.clock import FirstTrialClock
from training.datasets import Splits, fingerprint, load_table, split
from training.errors import SweepFailedError, SweepInterruptedError
from training.progress import ProgressPrinter
from training.promote import Registration, register_winner
from training.ray_session import ensure_ray
from training.scheduler import build_scheduler, early_stops
from training.spec import SweepSpec, require_runtime
from training.tracking import TrackingContext, TrialLogger, lineage_tags
from training.trial_records import TrialRecord, records_csv, status_counts, trial_records
from training.trials_plot import trials_figure
from training.tuner import Interrupt, build_tuner
from training.winner import Winner, fit_and_log_winner

DEFAULT_STATE_DIR = ".rayship"
# Artifacts of the sweep's parent run: the trials plot and the table it is drawn from.
TRIALS_PLOT = "sweep/trials.png"
TRIALS_TABLE = "sweep/trials.csv"
PLOT_DPI = 80


class SweepOutcome(BaseModel):
    """What a sweep did, for the CLI and the benchmark."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experiment: str = Field(description="MLflow experiment name.")
    sweep_run_id: str | None = Field(description="Parent MLflow run id (the sweep id); None with logging off.")
    trials: int = Field(description="Trials that ran.")
    failed_trials: int = Field(description="Trials that raised.")
    early_stopped_trials: int = Field(0, description="Trials ASHA stopped before their full budget (max_t).")
    best_trial_id: str = Field(description="Trial with the best validation score.")
    best_valid_score: float = Field(description="Its validation score of the spec's metric.")
    trial_durations_s: list[float] = Field(description="Wall time each trial ran, in seconds.")
    tune_wall_s: float = Field(description="Wall time of the Tune run alone, in seconds.")
    startup_s: float = Field(
        description="Seconds from the start of the Tune run to its first trial starting: Tune's set-up and the trial "
        "actors' process start and imports (Tune and the framework)."
    )
    trials_plot_uri: str | None = Field(
        None, description=f"Artifact URI of the sweep run's trials plot ({TRIALS_PLOT}); None with logging off."
    )
    winner: Winner | None = Field(None, description="The logged winning model; None with logging off.")
    registration: Registration | None = Field(None, description="The new version, when registering.")


def state_dir_from_env() -> Path:
    """`RAYSHIP_STATE_DIR` (as `python -m cluster` uses it), else `.rayship` in the working directory."""
    return Path(os.environ.get("RAYSHIP_STATE_DIR", DEFAULT_STATE_DIR)).expanduser().absolute()


def git_commit(cwd: Path | None = None) -> str:
    """HEAD of the repository holding this code (the code that trains), or 'unknown' outside one."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=cwd, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def run_sweep(
    spec: SweepSpec,
    *,
    register: bool = False,
    alias: str | None = None,
    tracking_uri: str | None = None,
    log_to_mlflow: bool = True,
    state_dir: Path | None = None,
    console: Console | None = None,
    version_tags: Mapping[str, str] | None = None,
) -> SweepOutcome:
    """Run `spec`'s sweep on Ray (RAY_ADDRESS or a private local instance), log it to MLflow, maybe register
    (with `version_tags` on the new version, beside rayship's own)."""
    require_runtime(spec.trainer.framework)  # a spec built in code skips load_spec's check
    if alias is not None:
        validate_alias(alias)  # fail before minutes of training, not after
    console = console or Console(stderr=True)
    table = load_table(spec.dataset)
    splits = split(table, spec.split)
    tracking = TrackingContext(tracking_uri=None, dataset_sha256=fingerprint(table), git_commit=git_commit())
    client = None
    if log_to_mlflow:
        client, tracking = _start_sweep_run(spec, tracking, tracking_uri, console)
    interrupt = Interrupt()
    status = "FAILED"
    started_ray = False
    try:
        interrupt.install()
        started_ray = ensure_ray()
        outcome, best_config = _tune(spec, splits, tracking, interrupt, client, state_dir, console)
        if client is not None:
            winner = fit_and_log_winner(
                spec, table, splits, outcome.best_trial_id, best_config, tracking.dataset_sha256
            )
            outcome = outcome.model_copy(update={"winner": winner})
            _raise_if_interrupted(interrupt, spec, tracking)
            if register:
                registration = register_winner(spec, winner, splits, tracking, alias, client, version_tags)
                outcome = outcome.model_copy(update={"registration": registration})
        status = "FINISHED"
        return outcome
    except (SweepInterruptedError, KeyboardInterrupt):
        status = "KILLED"
        raise
    finally:
        interrupt.restore()
        if client is not None:
            mlflow.end_run(status)
        if started_ray:
            ray.shutdown()


def _start_sweep_run(
    spec: SweepSpec, tracking: TrackingContext, tracking_uri: str | None, console: Console
) -> tuple[MlflowClient, TrackingContext]:
    """Open the sweep's parent run (the active fluent run until the sweep ends) and record the spec in it."""
    client = connect(tracking_uri)
    mlflow.set_tracking_uri(client.tracking_uri)
    experiment_id = mlflow.set_experiment(spec.experiment).experiment_id
    parent = mlflow.start_run(experiment_id=experiment_id, run_name=f"sweep-{spec.model_name}")
    tracking = tracking.model_copy(
        update={"tracking_uri": client.tracking_uri, "experiment_id": experiment_id, "sweep_run_id": parent.info.run_id}
    )
    mlflow.set_tags(lineage_tags(tracking))
    mlflow.log_params(
        {
            "framework": spec.trainer.framework,
            "estimator": spec.trainer.estimator,
            "dataset": spec.dataset.label,
            "num_samples": spec.num_samples,
            "metric": spec.metric,
            "scheduler": spec.scheduler.type,
        }
    )
    mlflow.log_dict(spec.model_dump(mode="json"), "sweep_spec.json")
    console.print(f"sweep run {parent.info.run_id} in experiment '{spec.experiment}' at {run_address(tracking)}")
    return client, tracking


def run_address(tracking: TrackingContext) -> str:
    """The sweep run's page in the MLflow UI for a tracking server, else the tracking URI (a local store)."""
    uri = tracking.tracking_uri or ""
    if not uri.startswith(("http://", "https://")):
        return uri
    return f"{uri.rstrip('/')}/#/experiments/{tracking.experiment_id}/runs/{tracking.sweep_run_id}"


def _tune(
    spec: SweepSpec,
    splits: Splits,
    tracking: TrackingContext,
    interrupt: Interrupt,
    client: MlflowClient | None,
    state_dir: Path | None,
    console: Console,
) -> tuple[SweepOutcome, dict]:
    """Run the trials, close their MLflow runs, pick the best and (logging) plot the trials; raises if interrupted
    or nothing succeeded."""
    # Our Interrupt stopper handles SIGINT (see tuner.py); Tune's own handler would hide the interrupt from us.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    scheduler = build_scheduler(spec.scheduler)
    stops = early_stops(scheduler)  # filled in by the scheduler as the trials run
    clock = FirstTrialClock()
    progress = ProgressPrinter(console, spec.metric, spec.direction, spec.num_samples, early_stops=stops)
    callbacks: list[tune.Callback] = [clock, progress]
    logger = None
    if client is not None:
        logger = TrialLogger(tracking, spec.trainer.params, interrupt.event.is_set, early_stops=stops)
        callbacks.append(logger)
    run_name = f"{spec.experiment}-{tracking.sweep_run_id or int(time.time())}"
    storage = (state_dir or state_dir_from_env()) / "tune"
    tuner = build_tuner(spec, splits, storage, run_name, interrupt, callbacks, scheduler)
    began = time.monotonic()
    open_runs_status = "KILLED"  # if fit() raises, unfinished trials were killed with it
    try:
        grid = tuner.fit()
        # Trials still open now were cut by the time budget (or the interrupt, which the logger already saw).
        open_runs_status = "KILLED" if interrupt.event.is_set() else "FINISHED"
    finally:
        if logger is not None:
            logger.close(open_runs_status)  # drains the logging thread: its time counts in the wall time
    tune_wall_s = time.monotonic() - began
    if logger is not None and logger.errors:
        console.print(f"[yellow]{len(logger.errors)} MLflow logging call(s) failed; first: {logger.errors[0]}")
    _raise_if_interrupted(interrupt, spec, tracking)
    best = _best_result(spec, grid)
    best_trial_id = str(best.metrics["trial_id"])
    records = trial_records(grid, spec.metric, stops)
    plot_uri = _log_trials(spec, records, best_trial_id, tracking, console) if client is not None else None
    outcome = SweepOutcome(
        experiment=spec.experiment,
        sweep_run_id=tracking.sweep_run_id or None,
        trials=len(grid),
        failed_trials=sum(r.error is not None for r in grid),
        early_stopped_trials=status_counts(records)["early_stopped"],
        trials_plot_uri=plot_uri,
        best_trial_id=best_trial_id,
        best_valid_score=float(best.metrics[spec.metric]),
        trial_durations_s=[float(r.metrics["time_total_s"]) for r in grid if "time_total_s" in (r.metrics or {})],
        tune_wall_s=tune_wall_s,
        startup_s=(clock.first_start - began) if clock.first_start is not None else 0.0,
    )
    return outcome, dict(best.config)


def _log_trials(
    spec: SweepSpec, records: list[TrialRecord], winner: str, tracking: TrackingContext, console: Console
) -> str:
    """Log the trials plot and its table to the sweep's (active) run and say where; returns the plot's URI."""
    figure = trials_figure(
        records,
        title=f"sweep {spec.experiment}",
        metric=spec.metric,
        direction=spec.direction,
        search_space=spec.search_space,
        winner=winner,
        max_t=spec.scheduler.max_t if spec.scheduler.type == "asha" else None,
    )
    # No "Software" entry: the bytes depend on the records and the drawing, not on matplotlib's version string.
    mlflow.log_figure(figure, TRIALS_PLOT, save_kwargs={"dpi": PLOT_DPI, "metadata": {"Software": None}})
    mlflow.log_text(records_csv(records, spec.metric, list(spec.search_space)), TRIALS_TABLE)
    uri = mlflow.get_artifact_uri(TRIALS_PLOT)
    # One line, never wrapped: a URI is copied whole.
    console.print(f"trials plot {uri} (artifacts of the sweep run at {run_address(tracking)})", soft_wrap=True)
    return uri


def _best_result(spec: SweepSpec, grid: tune.ResultGrid) -> tune.Result:
    scored = [r for r in grid if r.error is None and spec.metric in (r.metrics or {})]
    if not scored:
        errors = [str(r.error).strip().splitlines()[0] for r in grid if r.error is not None]
        reason = errors[0] if errors else f"no trial reported {spec.metric} within {spec.time_budget_s:g} s"
        raise SweepFailedError(spec.experiment, len(grid), reason)
    return grid.get_best_result(spec.metric, spec.direction, scope="last", filter_nan_and_inf=True)


def _raise_if_interrupted(interrupt: Interrupt, spec: SweepSpec, tracking: TrackingContext) -> None:
    if interrupt.event.is_set():
        raise SweepInterruptedError(spec.experiment, tracking.sweep_run_id or "(not logged)")
