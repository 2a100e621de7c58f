"""Where a rollout's observations come from: cumulative per-version counters, read from the gateway.

`MetricsSource.snapshot(model)` returns a `StatsSnapshot`; the driver turns two snapshots into an
`Observation` with `observation_between`. `GatewayStatsSource` reads the gateway's fresh JSON endpoint
`GET /-/rayship/stats?model=M` (see `deployments/stats.py`): a Prometheus scrape would be up to 30 s old.

A version's errors are its 5xx answers only. A 4xx is the caller's input (invalid, or values the model
refuses): counting it would let any client fail a candidate, or dilute a bad one's failures, by sending bad
requests. The gateway's pinned counts (`pinned_requests`, `pinned_errors`) go along, and the rollout core leaves
those requests out of every window (`rollout.core.observation`): a client that pins requests to a version chose it,
the traffic policy did not.

Model quality comes from the monitor, through the gateway's `GET /-/rayship/monitoring?model=M` (same token;
`monitoring.monitor.ModelStatus`): per version, the labelled rows joined with its predictions (`labels_total`),
the correct ones (`correct_total`) and its predicted rows per class (`predicted_classes`), all cumulative since
the monitor started. The monitor's sliding windows (`accuracy`, `drift`) are its own and not used: a rollout's
interval is the increase of those counters over it. Quality is an addition: when the route fails, the snapshot
still succeeds, without quality counters and with `monitoring_unavailable` saying why, and the quality checks
pass, saying so; the monitoring route never fails a snapshot, let alone a rollout.
"""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deployments.stats import ModelStats, VersionStats
from monitoring.monitor import ModelStatus, VersionStatus
from rollout.core.analysis import window_between
from rollout.core.observation import Observation, VersionCounters
from rollout.errors import MetricsUnavailableError

STATS_PATH = "/-/rayship/stats"
MONITORING_PATH = "/-/rayship/monitoring"


class StatsSnapshot(BaseModel):
    """Cumulative counters of every version of one model at one instant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Model name.")
    collected_at_s: float = Field(description="Unix time (s) the counters were read.")
    oldest_push_at_s: float | None = Field(
        default=None,
        description="Unix time (s) of the oldest data among the gateway replicas; everything that happened "
        "before it is included in the counters. None when not known.",
    )
    versions: dict[str, VersionCounters] = Field(default_factory=dict, description="Counters per version.")
    monitoring_unavailable: str | None = Field(
        default=None,
        description="Why the monitoring route could not be read (e.g. 'HTTP 503: ...'); the versions' quality "
        "counters are then null. Null when it was read, or when the source does not read it (counters null too).",
    )


class MetricsSource(Protocol):
    def snapshot(self, model: str) -> StatsSnapshot:
        """The model's cumulative counters now; raises MetricsUnavailableError when they cannot be read."""
        ...


def server_errors(errors: dict[str, int]) -> int:
    """Of failures counted by HTTP status, the version's own: its 5xx (see the module docstring)."""
    return sum(count for code, count in errors.items() if code.startswith("5"))


def counters_from_stats(stats: VersionStats) -> VersionCounters:
    """The version's requests and 5xx (pinned ones apart), its latency and its shadow comparisons."""
    return VersionCounters(
        requests=stats.requests,
        errors=server_errors(stats.errors),
        pinned_requests=stats.pinned_requests,
        pinned_errors=server_errors(stats.pinned_errors),
        latency_ms=stats.latency_ms,
        shadow_rows_compared=stats.shadow_rows_compared,
        shadow_rows_agreed=stats.shadow_rows_agreed,
    )


def snapshot_from_model_stats(stats: ModelStats) -> StatsSnapshot:
    return StatsSnapshot(
        model=stats.model,
        collected_at_s=stats.collected_at,
        oldest_push_at_s=stats.oldest_push_at,
        versions={version: counters_from_stats(version_stats) for version, version_stats in stats.versions.items()},
    )


def quality_from_status(status: VersionStatus) -> dict[str, object]:
    """The version's cumulative quality counters, as `VersionCounters` fields (not the monitor's windows)."""
    return {
        "labels": status.labels_total,
        "correct": status.correct_total,
        "predicted_classes": status.predicted_classes,
    }


def with_quality(snapshot: StatsSnapshot, status: ModelStatus) -> StatsSnapshot:
    """The snapshot with each version's quality counters merged in. A version the gateway counted and the monitor
    has not seen has none yet (0 labels, no classes); one only the monitor knows joins with no requests, so a
    window that starts now has its quality counters to start from."""
    versions = {
        version: counters.model_copy(update={"labels": 0, "correct": 0, "predicted_classes": None})
        for version, counters in snapshot.versions.items()
    }
    for version, version_status in status.versions.items():
        counters = versions.get(version, VersionCounters(requests=0, errors=0))
        versions[version] = counters.model_copy(update=quality_from_status(version_status))
    return snapshot.model_copy(update={"versions": versions, "monitoring_unavailable": None})


def observation_between(
    before: StatsSnapshot,
    after: StatsSnapshot,
    before_at_s: float,
    after_at_s: float,
    candidate_version: str | None = None,
) -> Observation:
    """Per-version windows between two snapshots the driver took at `before_at_s` and `after_at_s` on its own
    clock (the policy compares windows with the times it recorded on that clock). Without the monitoring route at
    either end, no window has quality counters, each saying why."""
    unavailable = after.monitoring_unavailable or before.monitoring_unavailable
    versions = {
        version: window_between(before.versions.get(version), counters, unavailable)
        for version, counters in after.versions.items()
    }
    return Observation(
        collected_at_s=after_at_s,
        window_s=max(after_at_s - before_at_s, 1e-6),
        versions=versions,
        candidate_version=candidate_version,
    )


class GatewayStatsSource:
    """Reads `GET <serve_url>/-/rayship/stats?model=M` with the cluster token, then the monitoring route's quality
    counters (`GET <serve_url>/-/rayship/monitoring?model=M`, same token), with a shorter timeout: a slow monitor
    must not stretch the driver's windows."""

    def __init__(
        self,
        serve_url: str,
        token: str | None,
        timeout_s: float = 5.0,
        client: httpx.Client | None = None,
        monitoring_timeout_s: float = 1.0,
    ):
        self.url = serve_url.rstrip("/") + STATS_PATH
        self.monitoring_url = serve_url.rstrip("/") + MONITORING_PATH
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout_s)
        self.headers = headers
        self.monitoring_timeout_s = monitoring_timeout_s

    def snapshot(self, model: str) -> StatsSnapshot:
        try:
            response = self.client.get(self.url, params={"model": model}, headers=self.headers)
        except httpx.HTTPError as exc:
            raise MetricsUnavailableError(model, self.url, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise MetricsUnavailableError(model, self.url, f"HTTP {response.status_code}: {_error_text(response)}")
        try:
            snapshot = snapshot_from_model_stats(ModelStats.model_validate_json(response.content))
        except ValidationError as exc:
            raise MetricsUnavailableError(model, self.url, f"unexpected response ({exc.error_count()} errors)") from exc
        status = self.monitoring_status(model)
        if isinstance(status, str):
            return snapshot.model_copy(update={"monitoring_unavailable": status})
        return with_quality(snapshot, status)

    def monitoring_status(self, model: str) -> ModelStatus | str:
        """The monitor's status of the model, or why it could not be read (never raises for the route's faults)."""
        try:
            response = self.client.get(
                self.monitoring_url,
                params={"model": model},
                headers=self.headers,
                timeout=self.monitoring_timeout_s,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {_error_text(response)}"
        try:
            return ModelStatus.model_validate_json(response.content)
        except ValidationError as exc:
            return f"unexpected response ({exc.error_count()} errors)"


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except (ValueError, AttributeError):  # not JSON, or JSON that is not an object
        return response.text[:200]
