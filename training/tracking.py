"""MLflow runs of a sweep: one parent run per sweep, one nested run per trial.

Trial runs are written by `TrialLogger`, a Tune callback in the driver, so trials never talk to MLflow (workers
need no route to it, and a slow MLflow cannot slow a trial). Its MLflow calls run in order on one background
thread, so Tune's event loop never waits on them either; `close` drains that thread.

How a trial ended is on its run: status FAILED or KILLED, or FINISHED with `rayship.iterations` (the reports it
made) and, when ASHA stopped it before `max_t`, `rayship.early_stopped=true` (the scheduler's own record of its
decisions, `training.scheduler`: Tune's results do not tell an ASHA stop from a trial that ran its budget).

What it sends is kept to few requests, because every request costs CPU in this process and in the MLflow server,
both of which share the cores the trials run on: a trial's params, scores and tags wait in a per-trial buffer and
go out together in one `log_batch` when scores arrive or the trial ends (several reports queued behind a slow
server share one request). A trial run thus costs create + one batch per report + end. MLflow's own async
logging (`synchronous=False`) would not cut that: without a buffering delay it sends every batch on its own from a
pool of threads, and `set_terminated` shuts the async queue down for every trial that ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from pydantic import BaseModel, ConfigDict, Field
from ray import tune

from registry import tags as tag_names

PARENT_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
EARLY_STOPPED_TAG = "rayship.early_stopped"  # "true" on a trial ASHA stopped before max_t; absent otherwise
ITERATIONS_TAG = "rayship.iterations"  # the reports a trial made (Tune's training_iteration)
SCORES = ("accuracy", "f1_macro", "log_loss", "roc_auc")


class TrackingContext(BaseModel):
    """Where a sweep's runs go; `tracking_uri=None` turns MLflow logging off (benchmarks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str | None = Field(description="MLflow tracking URI; None disables logging.")
    experiment_id: str = Field("", description="MLflow experiment id of the sweep.")
    sweep_run_id: str = Field("", description="Run id of the sweep's parent run; also the sweep id.")
    dataset_sha256: str = Field(description="Fingerprint of the dataset the trials train on.")
    git_commit: str = Field(description="Commit of the code that ran the sweep, or 'unknown'.")


def lineage_tags(context: TrackingContext) -> dict[str, str]:
    """Tags every run of the sweep carries."""
    return {
        tag_names.SWEEP_ID: context.sweep_run_id,
        tag_names.DATASET_FINGERPRINT: context.dataset_sha256,
        tag_names.GIT_COMMIT: context.git_commit,
        GIT_COMMIT_TAG: context.git_commit,
    }


class TrialLogger(tune.Callback):
    """Logs every trial as an MLflow run nested under the sweep run: params, per-report validation scores
    (`valid_<metric>` at step = report number), lineage tags, how many reports it made, whether ASHA stopped it
    early (`early_stops`, the scheduler's live record: trial id -> iteration), and an honest final status."""

    def __init__(
        self,
        context: TrackingContext,
        fixed_params: dict[str, Any],
        interrupted: Callable[[], bool],
        client: MlflowClient | None = None,
        early_stops: Mapping[str, int] | None = None,
    ) -> None:
        self._context, self._fixed, self._interrupted = context, dict(fixed_params), interrupted
        self._early_stops = {} if early_stops is None else early_stops
        self._client = client  # made on first use when not given: a client is not picklable
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}  # trial id -> data not sent yet (filled by Tune, drained by us)
        self._runs: dict[str, str] = {}  # trial id -> run id (touched only on the logging thread)
        self._open: set[str] = set()
        # Trial id -> its last report's iteration, and the trials whose end Tune announced (Tune's thread only).
        self._iterations: dict[str, int] = {}
        self._ended: set[str] = set()
        self.errors: list[str] = []

    def __getstate__(self) -> dict:
        # Tune pickles its run config for resuming; the thread, client, interrupt hook and early stops stay behind.
        return {"context": self._context, "fixed": self._fixed}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["context"], state["fixed"], lambda: False)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        params = {**self._fixed, **dict(trial.config)}
        self._buffer(trial.trial_id, params=[Param(k, str(v)) for k, v in sorted(params.items())])
        self._submit(self._start, trial.trial_id, str(trial))  # the params ride with the first scores

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        now, step = int(time.time() * 1000), int(result.get("iteration", iteration))
        metrics = [Metric(f"valid_{key}", float(result[key]), now, step) for key in SCORES if key in result]
        if "training_iteration" in result:
            self._iterations[trial.trial_id] = int(result["training_iteration"])
        self._buffer(trial.trial_id, metrics=metrics)
        self._submit(self._flush, trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end_tags(trial.trial_id)
        if self._interrupted():
            self._submit(self._finish, trial.trial_id, "KILLED")
            return
        if trial.trial_id in self._early_stops:
            self._buffer(trial.trial_id, tags=[RunTag(EARLY_STOPPED_TAG, "true")])
        self._submit(self._finish, trial.trial_id, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end_tags(trial.trial_id)
        self._submit(self._finish, trial.trial_id, "FAILED")

    def close(self, status_of_open_runs: str) -> None:
        """End runs still open (e.g. KILLED after an interrupt, FINISHED when the time budget cut them) and wait
        for every queued call. Called once Tune's run is over, so no Tune callback runs beside it."""
        if self._executor is None:
            return
        for trial_id in sorted(set(self._iterations) - self._ended):
            self._end_tags(trial_id)
        self._submit(self._finish_open, status_of_open_runs)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _end_tags(self, trial_id: str) -> None:
        """Buffer the tags every ended trial carries: the reports it made (none when it never reported)."""
        self._ended.add(trial_id)
        if trial_id in self._iterations:
            self._buffer(trial_id, tags=[RunTag(ITERATIONS_TAG, str(self._iterations[trial_id]))])

    def _buffer(self, trial_id: str, **entities: list) -> None:
        with self._lock:
            self._pending.setdefault(trial_id, _Pending()).add(**entities)

    def _submit(self, call: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            self._client = self._client or MlflowClient(tracking_uri=self._context.tracking_uri)
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rayship-mlflow")
        self._executor.submit(self._guarded, call, *args)

    def _guarded(self, call: Callable[..., None], *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - a failed log call must not kill the sweep; it is reported
            self.errors.append(f"{call.__name__}: {exc}")

    def _start(self, trial_id: str, name: str) -> None:
        context = self._context
        tags = {**lineage_tags(context), PARENT_TAG: context.sweep_run_id, tag_names.TRIAL_ID: trial_id}
        run = self._client.create_run(context.experiment_id, tags=tags, run_name=name)
        self._runs[trial_id] = run.info.run_id
        self._open.add(trial_id)

    def _flush(self, trial_id: str) -> None:
        """Send whatever the trial has buffered in one request; a no-op when an earlier flush took it all."""
        with self._lock:
            pending = self._pending.pop(trial_id, None)
        if pending is not None and trial_id in self._runs:
            self._client.log_batch(
                self._runs[trial_id], metrics=pending.metrics, params=pending.params, tags=pending.tags
            )

    def _finish(self, trial_id: str, status: str) -> None:
        if trial_id not in self._open:
            return
        self._flush(trial_id)
        self._client.set_terminated(self._runs[trial_id], status)
        self._open.discard(trial_id)

    def _finish_open(self, status: str) -> None:
        for trial_id in sorted(self._open):
            self._finish(trial_id, status)


@dataclass
class _Pending:
    """A trial's params, metrics and tags not sent to MLflow yet."""

    params: list[Param] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    tags: list[RunTag] = field(default_factory=list)

    def add(self, params: Iterable[Param] = (), metrics: Iterable[Metric] = (), tags: Iterable[RunTag] = ()) -> None:
        self.params.extend(params)
        self.metrics.extend(metrics)
        self.tags.extend(tags)
