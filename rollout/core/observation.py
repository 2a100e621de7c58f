"""What the rollout policy sees each interval: per-version request counts, errors and latency over a window.

Metrics sources produce cumulative `VersionCounters` (as the gateway counts them); `rollout.core.analysis` turns
two snapshots into a `VersionWindow`, and the driver hands the policy one `Observation` per interval.

A window counts only the requests the traffic policy sent a version (routed, mirrored ones included) and only
their 5xx: requests a client pinned to a version, and 4xx (the caller's input), are outside callers' choices, and
counting them would let anyone fail a candidate, or hide a bad one, through its error rate. (Latency is the
gateway's histogram of every successful request, pinned ones included.)

A version's quality counters come from the monitor, through the gateway's monitoring route: labelled rows joined
with its predictions, the correct ones among them, and its predicted rows per class (mirrored requests are
predicted too). They count since the monitor started, independently of the gateway's counters, and are null when
the route could not be read; a window then says why (`quality_unavailable`) and the quality checks pass, saying so.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deployments.histogram import Histogram


class VersionCounters(BaseModel):
    """Cumulative counters for one model version since its gateway replica started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(
        ge=0, description="Requests this version was asked to serve (routed, mirrored or pinned; served or failed)."
    )
    errors: int = Field(ge=0, description="Of those, the ones that failed with a 5xx (4xx, the caller's, are not).")
    pinned_requests: int = Field(
        default=0, ge=0, description="Of the requests, those a client pinned to this version (not judged)."
    )
    pinned_errors: int = Field(default=0, ge=0, description="Of the 5xx, those of pinned requests (not judged).")
    latency_ms: Histogram = Field(
        default_factory=lambda: Histogram.empty(()),
        description="Latency in milliseconds since the counter started; may hold fewer observations than "
        "requests when only successful requests are timed.",
    )
    shadow_rows_compared: int = Field(
        default=0,
        ge=0,
        description="Rows of requests mirrored to this version whose answer was compared with the live answer.",
    )
    shadow_rows_agreed: int = Field(
        default=0, ge=0, description="Of the compared rows, those whose prediction equalled the live one."
    )
    labels: int | None = Field(
        default=None,
        ge=0,
        description="Labelled rows joined with this version's predictions since the monitor started (the "
        "monitor's labels_total); null when the monitoring route was not read.",
    )
    correct: int | None = Field(
        default=None,
        ge=0,
        description="Of those, rows whose prediction equalled the label (correct_total; classification); null when "
        "the monitoring route was not read.",
    )
    predicted_classes: dict[str, int] | None = Field(
        default=None,
        description="Rows this version predicted per class (the label as a string, then 'other') since the monitor "
        "started, mirrored ones included; null when the monitoring route was not read or the version has no "
        "profile with classes.",
    )

    @property
    def routed_requests(self) -> int:
        """The requests the traffic policy sent this version (mirrored included): what a rollout judges it by."""
        return max(self.requests - self.pinned_requests, 0)

    @property
    def routed_errors(self) -> int:
        """Of the routed requests, those that failed with a 5xx."""
        return max(self.errors - self.pinned_errors, 0)


class VersionWindow(BaseModel):
    """One version's traffic over one analysis window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(
        default=0, ge=0, description="Requests the policy routed or mirrored to the version in the window (not pinned)."
    )
    errors: int = Field(default=0, ge=0, description="Of those, the ones that failed with a 5xx.")
    p50_ms: float | None = Field(default=None, ge=0, description="Median latency in ms; null without requests.")
    p99_ms: float | None = Field(
        default=None, ge=0, description="99th percentile latency in ms; null without requests."
    )
    shadow_rows_compared: int = Field(
        default=0, ge=0, description="Mirrored rows compared with the live answer in the window (shadow target)."
    )
    shadow_rows_agreed: int = Field(
        default=0, ge=0, description="Of those, rows whose prediction equalled the live one."
    )
    labels: int = Field(
        default=0, ge=0, description="Labelled rows joined with the version's predictions in the window."
    )
    correct: int = Field(default=0, ge=0, description="Of those, rows whose prediction equalled the label.")
    predicted_classes: dict[str, int] | None = Field(
        default=None,
        description="Rows the version predicted per class in the window (the label as a string, then 'other'), "
        "mirrored ones included; null when not known (no profile with classes, or quality_unavailable).",
    )
    quality_unavailable: str | None = Field(
        default=None,
        description="Why the window's labels and predicted classes are unknown ('monitoring unavailable: <why>'); "
        "null when they are known.",
    )

    @model_validator(mode="after")
    def _errors_within_requests(self) -> VersionWindow:
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) cannot exceed requests ({self.requests})")
        if self.shadow_rows_agreed > self.shadow_rows_compared:
            raise ValueError(
                f"agreed rows ({self.shadow_rows_agreed}) cannot exceed compared rows ({self.shadow_rows_compared})"
            )
        if self.correct > self.labels:
            raise ValueError(f"correct rows ({self.correct}) cannot exceed labelled rows ({self.labels})")
        if self.predicted_classes is not None and any(rows < 0 for rows in self.predicted_classes.values()):
            raise ValueError(f"predicted rows per class cannot be negative, got {self.predicted_classes}")
        return self

    @property
    def predicted_rows(self) -> int:
        """Rows the version predicted in the window, over every class (0 when not known)."""
        return sum(self.predicted_classes.values()) if self.predicted_classes is not None else 0


class Observation(BaseModel):
    """Per-version windows for one model, collected at one instant of the driver's clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collected_at_s: float = Field(description="When the window ended, on the driver's clock (seconds).")
    window_s: float = Field(gt=0, description="Length of the window in seconds.")
    versions: dict[str, VersionWindow] = Field(
        default_factory=dict, description="Window per model version; a version without traffic may be absent."
    )
    candidate_version: str | None = Field(
        default=None,
        description="The candidate the driver currently targets (e.g. the challenger alias re-resolved); "
        "when it differs from the rollout's candidate, the analysis restarts for the new one.",
    )

    def window(self, version: str) -> VersionWindow:
        """The version's window, empty when it saw no traffic."""
        return self.versions.get(version, VersionWindow())
