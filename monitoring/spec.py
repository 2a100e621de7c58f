"""The monitoring spec of one model (`configs/monitoring/<model>.yaml`): windows, minimum sample, thresholds.

`python -m monitoring apply FILE` validates it and stores it on the registered model (tag
`rayship.monitoring_spec`), where the monitor reads it; a model without one is judged with the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from monitoring.contract import Strict, first_problem
from monitoring.errors import MonitorSpecError

DriftStatistic = Literal["psi", "js"]
Task = Literal["classification", "regression"]
# The alerts a retraining may start on: the model-quality ones. Serving faults (errors, latency, no traffic) are
# not fixed by retraining, so they are not offered.
RetrainAlert = Literal[
    "RayshipFeatureDriftHigh",
    "RayshipPredictionDriftHigh",
    "RayshipLiveAccuracyBelowFloor",
    "RayshipLiveAccuracyBelowChampion",
]


class WindowSpec(Strict):
    """How much recent traffic a drift score looks at: the newest buckets up to `rows`, none older than `seconds`."""

    rows: int = Field(1000, ge=10, le=10_000_000, description="Most rows in a window (newest buckets first).")
    seconds: float = Field(300.0, gt=0, le=7 * 86400, description="Oldest traffic a window includes, in seconds.")
    bucket_s: float = Field(5.0, gt=0, le=3600, description="Time resolution of the window, in seconds.")

    @model_validator(mode="after")
    def _bucket_fits(self) -> WindowSpec:
        if self.bucket_s > self.seconds:
            raise ValueError(f"bucket_s ({self.bucket_s}) must not exceed seconds ({self.seconds})")
        return self


class DriftSpec(Strict):
    """When a distribution counts as drifted from the reference."""

    statistic: DriftStatistic = Field(
        "psi", description="psi (Population Stability Index) or js (Jensen-Shannon distance, base 2, 0..1)."
    )
    threshold: float = Field(0.25, gt=0, description="Drifted when the statistic is above this.")


class LabelSpec(Strict):
    """Ground truth: how long a prediction waits for its label, how many wait, and the window accuracy is read on."""

    ttl_s: float = Field(
        3600.0, gt=0, le=7 * 86400, description="How long a prediction waits for its label, in seconds."
    )
    max_pending: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Most predictions kept waiting for a label per model; the oldest are dropped first.",
    )
    window: WindowSpec = Field(
        default_factory=lambda: WindowSpec(rows=500, seconds=3600, bucket_s=60),
        description="The sliding window live accuracy is computed on, in labelled rows and seconds.",
    )
    min_labels: int = Field(
        50, ge=1, description="Labelled rows a window needs; fewer is 'insufficient labels', never a figure."
    )

    @model_validator(mode="after")
    def _min_labels_fit(self) -> LabelSpec:
        # A window never holds much more than `rows` labels, so a larger minimum would never be met.
        if self.min_labels > self.window.rows:
            raise ValueError(f"min_labels ({self.min_labels}) must not exceed window.rows ({self.window.rows})")
        return self


class AlertSpec(Strict):
    """Thresholds and hold times of the model's Prometheus alerts (`monitoring/alert_rules.py`)."""

    for_s: float = Field(
        60.0, ge=0, le=86400, description="How long a condition must hold before its alert fires (the rule's for:)."
    )
    rate_window_s: float = Field(
        60.0, ge=10, le=3600, description="Range of the rate() behind the error-rate and latency alerts, in seconds."
    )
    error_rate_max: float = Field(
        0.05, gt=0, le=1, description="A version's share of 5xx answers (unpinned requests) above this fires."
    )
    p99_latency_ms_max: float = Field(1000.0, gt=0, description="A version's p99 latency above this fires, in ms.")
    accuracy_floor: float | None = Field(
        None, ge=0, le=1, description="Live accuracy below this fires; null: no absolute floor."
    )
    accuracy_drop_max: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Live accuracy further than this below the champion's (the version at most traffic) fires.",
    )
    no_traffic_for_s: float = Field(
        600.0, ge=60, le=7 * 86400, description="A routed model answering no request for this long fires."
    )
    labels_stopped_for_s: float = Field(
        900.0, ge=60, le=7 * 86400, description="Traffic with no label joined for this long fires."
    )


class RetrainSpec(Strict):
    """What the retraining trigger (`python -m monitoring watch`) does when a model-quality alert fires."""

    triggers: list[RetrainAlert] = Field(
        default_factory=lambda: ["RayshipFeatureDriftHigh", "RayshipPredictionDriftHigh"],
        min_length=1,
        description="Alerts on the champion version that start a retraining.",
    )
    training_spec: Path = Field(description="The sweep spec the job runs, relative to the repository root.")
    data: str | None = Field(
        None,
        min_length=1,
        description="Fresh data the job trains on (a .csv/.parquet path or URL#TABLE); null: the spec's dataset.",
    )
    hold_s: float = Field(
        0.0, ge=0, le=86400, description="How long an alert must have fired before the trigger acts, in seconds."
    )
    cooldown_s: float = Field(
        1800.0, ge=0, le=30 * 86400, description="Least time between two retraining jobs of the model, in seconds."
    )
    job_timeout_s: float = Field(1800.0, gt=0, description="A job still running after this is reported stuck.")
    auto_rollout: Literal["canary", "none"] = Field(
        "none", description="canary: a registered version that passed the gate is canaried; none: only reported."
    )
    rollout_spec: Path = Field(
        Path("configs/rollouts/canary.yaml"), description="The canary spec, relative to the repository root."
    )


class MonitorSpec(Strict):
    """What the monitor watches for one model, and when it calls a window drifted."""

    model: str = Field(min_length=1, description="Registered model name, e.g. 'iris'.")
    window: WindowSpec = Field(default_factory=WindowSpec, description="The sliding window drift is scored on.")
    min_rows: int = Field(
        200, ge=1, description="Rows a window needs before it is scored; fewer is 'insufficient data', never drift."
    )
    feature_drift: DriftSpec = Field(default_factory=DriftSpec, description="Per numeric feature.")
    prediction_drift: DriftSpec = Field(
        default_factory=lambda: DriftSpec(statistic="js", threshold=0.2),
        description="On the predicted classes (or the score histogram of a regressor).",
    )
    categorical_p_value: float = Field(
        0.01, gt=0, lt=1, description="A categorical feature drifted when the chi-square test's p-value is below this."
    )
    labels: LabelSpec = Field(default_factory=LabelSpec, description="Ground truth joined on the request id.")
    task: Task | None = Field(
        None, description="classification or regression, for live accuracy; null: inferred from the predictions."
    )
    alerts: AlertSpec = Field(default_factory=AlertSpec, description="The model's Prometheus alerts.")
    retrain: RetrainSpec | None = Field(None, description="Retraining on alerts; null: alerts only.")


def default_spec(model: str) -> MonitorSpec:
    return MonitorSpec(model=model)


def load_spec(path: Path) -> MonitorSpec:
    """Read and validate a spec file; any problem is a `MonitorSpecError` naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise MonitorSpecError(str(path), f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise MonitorSpecError(str(path), f"is not valid YAML ({exc})") from None
    return parse_spec(raw, str(path))


def parse_spec(raw: object, where: str) -> MonitorSpec:
    try:
        return MonitorSpec.model_validate(raw)
    except ValidationError as exc:
        raise MonitorSpecError(where, first_problem(exc)) from None
