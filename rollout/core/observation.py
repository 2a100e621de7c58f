"""What the rollout policy sees each interval: per-version request counts, errors and latency over a window.

Metrics sources produce cumulative `VersionCounters` (as the gateway counts them); `rollout.core.analysis` turns
two snapshots into a `VersionWindow`, and the driver hands the policy one `Observation` per interval.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deployments.histogram import Histogram


class VersionCounters(BaseModel):
    """Cumulative counters for one model version since its gateway replica started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(ge=0, description="Requests routed to this version (served or failed).")
    errors: int = Field(ge=0, description="Requests to this version that failed (5xx or exception).")
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


class VersionWindow(BaseModel):
    """One version's traffic over one analysis window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(default=0, ge=0, description="Requests in the window.")
    errors: int = Field(default=0, ge=0, description="Failed requests in the window.")
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

    @model_validator(mode="after")
    def _errors_within_requests(self) -> VersionWindow:
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) cannot exceed requests ({self.requests})")
        if self.shadow_rows_agreed > self.shadow_rows_compared:
            raise ValueError(
                f"agreed rows ({self.shadow_rows_agreed}) cannot exceed compared rows ({self.shadow_rows_compared})"
            )
        return self


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
