"""Where a rollout's observations come from: cumulative per-version counters, read from the gateway.

`MetricsSource.snapshot(model)` returns a `StatsSnapshot`; the driver turns two snapshots into an
`Observation` with `observation_between`. `GatewayStatsSource` reads the gateway's fresh JSON endpoint
`GET /-/rayship/stats?model=M` (see `deployments/stats.py`): a Prometheus scrape would be up to 30 s old.

A version's errors are its 5xx answers plus 400 and 422 (the version could not handle an input): a model
that raises on real inputs surfaces as 400 at the gateway, and the champion's rate of those is the baseline
the comparison uses. Statuses that do not depend on the version (401, 403, 404, 405, 413, 415, 429) do not
count.
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
VERSION_CLIENT_ERRORS = frozenset({"400", "422"})


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


def counts_against_version(status_code: str) -> bool:
    """Whether an answer with this HTTP status is the version's failure (see the module docstring)."""
    return status_code.startswith("5") or status_code in VERSION_CLIENT_ERRORS


def counters_from_stats(stats: VersionStats) -> VersionCounters:
    """The version's requests, its failures (see the module docstring), its latency and its shadow comparisons."""
    return VersionCounters(
        requests=stats.requests,
        errors=sum(count for code, count in stats.errors.items() if counts_against_version(code)),
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
