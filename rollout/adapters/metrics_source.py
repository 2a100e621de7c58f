"""Where a rollout's observations come from: cumulative per-version counters, read from the gateway.

`MetricsSource.snapshot(model)` returns a `StatsSnapshot`; the driver turns two snapshots into an
`Observation` with `observation_between`. `GatewayStatsSource` reads the gateway's fresh JSON endpoint
`GET /-/rayship/stats?model=M` (see `deployments/stats.py`): a Prometheus scrape would be up to 30 s old.

A version's errors are its 5xx answers only. A 4xx is the caller's input (invalid, or values the model
refuses): counting it would let any client fail a candidate, or dilute a bad one's failures, by sending bad
requests. The gateway's pinned counts (`pinned_requests`, `pinned_errors`) go along, and the rollout core leaves
those requests out of every window (`rollout.core.observation`): a client that pins requests to a version chose it,
the traffic policy did not.
"""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deployments.stats import ModelStats, VersionStats
from rollout.core.analysis import window_between
from rollout.core.observation import Observation, VersionCounters
from rollout.errors import MetricsUnavailableError

STATS_PATH = "/-/rayship/stats"


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


def observation_between(
    before: StatsSnapshot,
    after: StatsSnapshot,
    before_at_s: float,
    after_at_s: float,
    candidate_version: str | None = None,
) -> Observation:
    """Per-version windows between two snapshots the driver took at `before_at_s` and `after_at_s` on its own
    clock (the policy compares windows with the times it recorded on that clock)."""
    versions = {
        version: window_between(before.versions.get(version), counters) for version, counters in after.versions.items()
    }
    return Observation(
        collected_at_s=after_at_s,
        window_s=max(after_at_s - before_at_s, 1e-6),
        versions=versions,
        candidate_version=candidate_version,
    )


class GatewayStatsSource:
    """Reads `GET <serve_url>/-/rayship/stats?model=M` with the cluster token."""

    def __init__(self, serve_url: str, token: str | None, timeout_s: float = 5.0, client: httpx.Client | None = None):
        self.url = serve_url.rstrip("/") + STATS_PATH
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout_s)
        self.headers = headers

    def snapshot(self, model: str) -> StatsSnapshot:
        try:
            response = self.client.get(self.url, params={"model": model}, headers=self.headers)
        except httpx.HTTPError as exc:
            raise MetricsUnavailableError(model, self.url, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise MetricsUnavailableError(model, self.url, f"HTTP {response.status_code}: {_error_text(response)}")
        try:
            return snapshot_from_model_stats(ModelStats.model_validate_json(response.content))
        except ValidationError as exc:
            raise MetricsUnavailableError(model, self.url, f"unexpected response ({exc.error_count()} errors)") from exc


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:200]
