"""The Prometheus series rayship exports and the Ray Serve series it reads, by the names Prometheus scrapes.

One list that dashboards, their tests and live tests share, so a renamed metric fails a test instead of leaving a
panel silently empty. Ray's metrics agent prefixes every name with `ray_` and counters with `_total`, and a histogram
is scraped as its `_bucket`, `_sum` and `_count` series. The gateway declares its metrics in
`deployments/gateway/prometheus.py`, the monitor in `monitoring/actor.py`: a unit test checks `RAYSHIP_SERIES` is
exactly what they declare. Plain names and no imports, so any layer may read them.
"""

from __future__ import annotations

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _histogram(name: str) -> tuple[str, ...]:
    return tuple(name + suffix for suffix in HISTOGRAM_SUFFIXES)


# The gateway: per model version (`model`, `version`), the counters also by `pinned`, errors by `code`.
GATEWAY_SERIES = (
    "ray_rayship_requests_total",
    "ray_rayship_errors_total",
    *_histogram("ray_rayship_latency_ms"),
    *_histogram("ray_rayship_batch_size"),
    "ray_rayship_shadow_rows_compared_total",
    "ray_rayship_shadow_rows_agreed_total",
    "ray_rayship_route_weight",
)

# The monitor actor: drift and live accuracy per model version (feedback items per model and `outcome`).
MONITOR_SERIES = (
    "ray_rayship_feature_drift",
    "ray_rayship_prediction_drift",
    "ray_rayship_drift_window_rows",
    "ray_rayship_drift_detected",
    "ray_rayship_live_accuracy",
    "ray_rayship_live_mae",
    "ray_rayship_live_rmse",
    "ray_rayship_labels_total",
    "ray_rayship_feedback_items_total",
    *_histogram("ray_rayship_label_delay_s"),
)

RAYSHIP_SERIES = GATEWAY_SERIES + MONITOR_SERIES

# Ray Serve's own series the dashboards read (labelled `application` and `deployment` by Serve).
SERVE_SERIES = (
    "ray_serve_deployment_replica_healthy",
    "ray_serve_autoscaling_target_replicas",
    *_histogram("ray_serve_deployment_processing_latency_ms"),
)
