"""Per-version Prometheus metrics from the gateway, labelled `model` and `version` (Serve adds its own tags).

Exported by Ray's metrics agent (`ray_` prefix, counters with `_total`): `ray_rayship_requests_total` and
`ray_rayship_errors_total` (also labelled `code`), both also labelled `pinned` ("true" for requests a client pinned
to the version, which rollouts do not judge), `ray_rayship_latency_ms` (histogram, successful requests) and
`ray_rayship_batch_size` (histogram, per successful request), and for shadow targets
`ray_rayship_shadow_rows_compared_total` / `ray_rayship_shadow_rows_agreed_total`. The gauge
`ray_rayship_route_weight` is each version's weight in the active policy (0 once a version leaves it), so dashboards
show a rollout's steps and alert rules know which version is the champion.

The histograms use the stats endpoint's bounds, so `histogram_quantile` over them interpolates to the figure
`deployments.histogram.Histogram.quantile` (what the rollout analysis judges) gives for the same interval.
"""

from __future__ import annotations

from ray.serve.metrics import Counter, Gauge, Histogram

from deployments.stats import BATCH_SIZE_BOUNDS, LATENCY_BOUNDS_MS
from deployments.traffic_policy import GatewayConfig


class PrometheusRecorder:
    def __init__(self) -> None:
        labels = ("model", "version")
        self._requests = Counter(
            "rayship_requests",
            "Requests per model version, pinned by the client or not.",
            tag_keys=labels + ("pinned",),
        )
        self._errors = Counter(
            "rayship_errors",
            "Failed requests per model version, status and pinning.",
            tag_keys=labels + ("pinned", "code"),
        )
        self._latency = Histogram(
            "rayship_latency_ms", "Latency of successful requests (ms).", list(LATENCY_BOUNDS_MS), tag_keys=labels
        )
        self._compared = Counter(
            "rayship_shadow_rows_compared", "Mirrored rows compared with the live answer.", tag_keys=labels
        )
        self._agreed = Counter("rayship_shadow_rows_agreed", "Mirrored rows equal to the live answer.", tag_keys=labels)
        self._batch = Histogram(
            "rayship_batch_size", "Batch size that served each request.", list(BATCH_SIZE_BOUNDS), tag_keys=labels
        )

    def record(
        self,
        model: str,
        version: str,
        status_code: int,
        latency_s: float | None,
        batch_size: int | None,
        *,
        pinned: bool,
    ) -> None:
        tags = {"model": model, "version": version}
        counted = {**tags, "pinned": "true" if pinned else "false"}
        self._requests.inc(1, dict(counted))
        if status_code >= 400:
            self._errors.inc(1, {**counted, "code": str(status_code)})
        if latency_s is not None:
            self._latency.observe(latency_s * 1000.0, dict(tags))
        if batch_size is not None:
            self._batch.observe(batch_size, dict(tags))

    def record_agreement(self, model: str, version: str, compared_rows: int, agreed_rows: int) -> None:
        tags = {"model": model, "version": version}
        self._compared.inc(compared_rows, dict(tags))
        if agreed_rows:
            self._agreed.inc(agreed_rows, dict(tags))


class RouteWeightGauge:
    """The active policy's weights, one series per model and version ever routed."""

    def __init__(self) -> None:
        self._gauge = Gauge(
            "rayship_route_weight", "Weight of a version in the gateway's policy (%).", ("model", "version")
        )
        self._shown: set[tuple[str, str]] = set()

    def show(self, config: GatewayConfig) -> None:
        weights = {
            (model, route.version): route.weight for model, policy in config.models.items() for route in policy.versions
        }
        for gone in self._shown - weights.keys():
            weights[gone] = 0
        for (model, version), weight in weights.items():
            self._gauge.set(weight, {"model": model, "version": version})
        self._shown |= weights.keys()
