"""Fresh per-version serving statistics: the response of `GET /-/rayship/stats?model=M` on the gateway.

Why: canary analysis cannot wait for a 30 s Prometheus scrape. Every gateway replica keeps cumulative counters per
(model, version) and pushes a snapshot every `PUSH_INTERVAL_S` (1 s) to one detached Ray actor
(`rayship-metrics` in namespace `serve`, see `deployments/gateway/aggregator.py`); the endpoint returns the sum
over replicas. The same figures are exported as Prometheus metrics (`rayship_requests_total`,
`rayship_errors_total`, `rayship_latency_ms`, `rayship_batch_size`, labels `model` and `version`; the first two
also `pinned`, "true" or "false").

Access: `Authorization: Bearer <Ray cluster token>` (the file at `RAY_AUTH_TOKEN_PATH`, else `~/.ray/auth_token`);
401 without it, 403 with a wrong one. Inside the cluster the same data is readable from the actor:
`ray.get(ray.get_actor("rayship-metrics", namespace="serve").model_stats.remote("iris"))` returns the same JSON dict.

Response (`ModelStats`), every counter cumulative since the replica started (compute rates from deltas):

```json
{"model": "iris", "collected_at": 1764000000.5, "oldest_push_at": 1764000000.1, "replicas": 2,
 "policy_digests": ["3f2a..."],
 "versions": {"1": {"requests": 950, "errors": {"500": 2, "400": 1}, "pinned_requests": 10,
                    "pinned_errors": {"400": 1},
                    "latency_ms": {"bounds": [1, 2, ...], "counts": [0, 3, ..., 0], "sum": 812.5, "count": 947},
                    "batch_size": {"bounds": [1, 2, 4, ...], "counts": [...], "sum": 3100, "count": 947},
                    "shadow_rows_compared": 0, "shadow_rows_agreed": 0}}}
```

- `requests` counts every request a version was asked to serve (routed by the policy, mirrored, or pinned by the
  client), including failed ones; a candidate's failure that was retried on the champion counts against the
  candidate (and the retry as a champion request).
- `errors` maps an HTTP status (as a string) to the number of requests of this version that ended with it (4xx
  from bad input, 5xx from failures: 500 also when the model's output was not finite, 503 when the version's app
  was not ready).
- `pinned_requests` / `pinned_errors`: the part of `requests` / `errors` a client pinned to this version
  (`POST /v2/models/{model}/versions/{version}/infer`). A rollout judges a version by the rest, the requests the
  policy chose (routed or mirrored), and by their 5xx only: an outside caller must not be able to fail a
  candidate, or hide a bad one, by pinning requests to it or by sending bad input.
- `latency_ms` is a histogram (`deployments/histogram.py`) of successful requests' latency at the gateway (pinned
  ones included), in milliseconds; `counts[i]` is the number of observations `<= bounds[i]` and above the previous
  bound; the last count is above the last bound.
- `batch_size` is a histogram, per successful request, of the size of the batch that served it.
- `shadow_rows_compared` / `shadow_rows_agreed` (on a shadow target): rows of mirrored requests whose answer was
  compared with the answer users got, and of those, rows with the same prediction (agreement = agreed / compared;
  floats compare with a relative tolerance of 1e-6). A mirrored request whose live answer failed is not compared.
- `oldest_push_at` is the oldest push among replicas that pushed in the last `STALE_AFTER_S`; a replica that
  stopped pushing (removed by downscaling) still counts, so counters never go backwards.
- `policy_digests` are the sha256 of the policy each live replica runs: one entry once a policy change has
  reached every replica.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from deployments.histogram import Histogram

PUSH_INTERVAL_S = 1.0
STALE_AFTER_S = 10.0
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
)  # fmt: skip
BATCH_SIZE_BOUNDS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class VersionStats(BaseModel):
    """Cumulative counters of one model version."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(0, description="Requests this version was asked to serve, failed ones included.")
    errors: dict[str, int] = Field(default_factory=dict, description="Failed requests by HTTP status code.")
    pinned_requests: int = Field(
        0, description="Of the requests, those a client pinned to this version (not chosen by the traffic policy)."
    )
    pinned_errors: dict[str, int] = Field(
        default_factory=dict, description="Of the failed requests, the pinned ones, by HTTP status code."
    )
    latency_ms: Histogram = Field(
        default_factory=lambda: Histogram.empty(LATENCY_BOUNDS_MS),
        description="Latency of successful requests at the gateway, in milliseconds.",
    )
    batch_size: Histogram = Field(
        default_factory=lambda: Histogram.empty(BATCH_SIZE_BOUNDS),
        description="Per successful request, the size of the batch that served it.",
    )
    shadow_rows_compared: int = Field(
        0, description="Rows of mirrored requests whose answer from this version was compared with the live answer."
    )
    shadow_rows_agreed: int = Field(
        0, description="Of the compared rows, those whose prediction equals the live version's prediction."
    )

    def merged(self, other: VersionStats) -> VersionStats:
        return VersionStats(
            requests=self.requests + other.requests,
            errors=_summed(self.errors, other.errors),
            pinned_requests=self.pinned_requests + other.pinned_requests,
            pinned_errors=_summed(self.pinned_errors, other.pinned_errors),
            latency_ms=self.latency_ms.merged(other.latency_ms),
            batch_size=self.batch_size.merged(other.batch_size),
            shadow_rows_compared=self.shadow_rows_compared + other.shadow_rows_compared,
            shadow_rows_agreed=self.shadow_rows_agreed + other.shadow_rows_agreed,
        )


def _summed(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    summed = dict(first)
    for code, count in second.items():
        summed[code] = summed.get(code, 0) + count
    return summed


class ModelStats(BaseModel):
    """The stats endpoint's response for one model."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Model name.")
    collected_at: float = Field(description="Unix time (s) the response was assembled.")
    oldest_push_at: float | None = Field(
        description="Unix time (s) of the oldest push among live replicas; None when no replica pushed yet."
    )
    replicas: int = Field(description="Gateway replicas whose counters are included.")
    policy_digests: list[str] = Field(description="sha256 of the policy each live gateway replica runs, deduplicated.")
    versions: dict[str, VersionStats] = Field(description="Cumulative counters per version.")


class ReplicaPush(BaseModel):
    """What one gateway replica sends to the aggregator every `PUSH_INTERVAL_S`."""

    model_config = ConfigDict(extra="forbid")

    replica: str = Field(description="Serve replica id of the gateway replica.")
    pushed_at: float = Field(description="Unix time (s) of the push.")
    policy_digest: str = Field(description="sha256 of the policy the replica runs.")
    stats: dict[str, dict[str, VersionStats]] = Field(description="Cumulative counters: model -> version -> stats.")


def aggregate_model_stats(pushes: list[ReplicaPush], model: str, now: float) -> ModelStats:
    """Sum every replica's latest counters for `model`; replicas silent for `STALE_AFTER_S` still count."""
    versions: dict[str, VersionStats] = {}
    for push in pushes:
        for version, stats in push.stats.get(model, {}).items():
            versions[version] = versions[version].merged(stats) if version in versions else stats
    live = [push for push in pushes if now - push.pushed_at <= STALE_AFTER_S]
    return ModelStats(
        model=model,
        collected_at=now,
        oldest_push_at=min((push.pushed_at for push in live), default=None),
        replicas=len(pushes),
        policy_digests=sorted({push.policy_digest for push in live}),
        versions=dict(sorted(versions.items())),
    )
