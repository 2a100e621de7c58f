"""A sweep's trials as plain records (what the trials plot and table show), read from Tune's results.

No Ray, no MLflow: `trial_records` reads the attributes a `tune.ResultGrid`'s results have (`metrics`, the trial's
last result, and `error`), so tests give it small fakes.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from training.spec import Scalar

TrialStatus = Literal["completed", "early_stopped", "cut", "failed"]
STATUSES: tuple[TrialStatus, ...] = ("completed", "early_stopped", "cut", "failed")
NOT_STARTED = "(not started)"


class ResultLike(Protocol):
    """The parts of a `ray.tune.Result` read here."""

    @property
    def metrics(self) -> dict[str, Any] | None: ...

    @property
    def error(self) -> BaseException | None: ...


class TrialRecord(BaseModel):
    """One trial of a sweep: its searched parameters, its last validation score and how it ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=1, description="1-based position among the sweep's trials, in the order Tune created them.")
    trial_id: str = Field(description="Tune trial id; '(not started)' for a trial the time budget cut before it ran.")
    params: dict[str, Scalar] = Field(description="The searched hyper-parameters' values of this trial.")
    metric: float | None = Field(description="The spec's metric on the validation split at its last report, if any.")
    iterations: int = Field(ge=0, description="Reports the trial made (Tune's training_iteration; ASHA's time).")
    status: TrialStatus = Field(
        description="completed: ran its whole budget; early_stopped: ASHA stopped it before max_t; cut: still "
        "running (or not started) when the sweep's time budget ran out; failed: it raised."
    )

    @property
    def early_stopped(self) -> bool:
        """Whether ASHA stopped this trial before its full budget."""
        return self.status == "early_stopped"


def trial_records(results: Iterable[ResultLike], metric: str, early_stops: Mapping[str, int]) -> list[TrialRecord]:
    """One record per result, in order; `early_stops` is the scheduler's record (`scheduler.early_stops`)."""
    return [_record(index, result, metric, early_stops) for index, result in enumerate(results, start=1)]


def _record(index: int, result: ResultLike, metric: str, early_stops: Mapping[str, int]) -> TrialRecord:
    last = result.metrics or {}
    trial_id = str(last.get("trial_id", NOT_STARTED))
    value = last.get(metric)
    return TrialRecord(
        index=index,
        trial_id=trial_id,
        params=dict(last.get("config") or {}),
        metric=float(value) if value is not None and math.isfinite(float(value)) else None,
        iterations=int(last.get("training_iteration", 0)),
        status=_status(result, trial_id, last, early_stops),
    )


def _status(result: ResultLike, trial_id: str, last: Mapping[str, Any], early_stops: Mapping[str, int]) -> TrialStatus:
    if result.error is not None:
        return "failed"
    if trial_id in early_stops:
        return "early_stopped"
    # Tune sets `done` on every trial it stopped or that returned; a trial the time budget stopped has none.
    return "completed" if last.get("done") else "cut"


def status_counts(records: Sequence[TrialRecord]) -> dict[TrialStatus, int]:
    """How many trials ended each way, every status present (0 when none)."""
    return {status: sum(record.status == status for record in records) for status in STATUSES}


def records_csv(records: Sequence[TrialRecord], metric: str, params: Sequence[str]) -> str:
    """The records as CSV: index, trial_id, status, iterations, the metric, then one column per searched param
    (empty where a trial has no value; `null`, as a spec spells it, for a chosen None)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "trial_id", "status", "iterations", metric, *params])
    for record in records:
        values = [_cell(record.params, name) for name in params]
        score = "" if record.metric is None else repr(record.metric)
        writer.writerow([record.index, record.trial_id, record.status, record.iterations, score, *values])
    return buffer.getvalue()


def _cell(params: Mapping[str, Scalar], name: str) -> Scalar:
    if name not in params:
        return ""
    return "null" if params[name] is None else params[name]
