"""Prometheus alert rules of every monitored model, built from its monitoring spec (`configs/monitoring/*.yaml`).

The specs are the one source: the local Prometheus loads `rules_document(...)` (written by `cluster up`), and
`make render` wraps the same groups in a `PrometheusRule` for KubeRay. Thresholds and `for:` come from each spec's
`alerts`, `feature_drift`, `prediction_drift` and `min_rows`, so an alert and the monitor's own verdict agree.

Ray exports the gauges of every process that set them, with labels of its own (WorkerId, ...); every expression
aggregates by the labels an alert keeps (`model`, `version`, `feature`) first.
"""

from __future__ import annotations

from pathlib import Path

from monitoring.spec import MonitorSpec, load_spec

CHAMPION_ACCURACY = "rayship:champion_live_accuracy"
SEVERITIES = ("critical", "warning", "info")


def load_specs(directory: Path) -> list[MonitorSpec]:
    """Every spec in `directory` (`*.yaml`, by file name); a bad file is a `MonitorSpecError` naming it."""
    return [load_spec(path) for path in sorted(Path(directory).glob("*.yaml"))]


def rules_document(specs: list[MonitorSpec]) -> dict:
    """A Prometheus rules file (`rule_files:`): one group per model."""
    return {"groups": [model_group(spec) for spec in specs]}


def prometheus_rule(specs: list[MonitorSpec], name: str = "rayship-alerts") -> dict:
    """The same groups as a Prometheus Operator `PrometheusRule` (monitoring.coreos.com/v1)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "alerts"}},
        "spec": rules_document(specs),
    }


def model_group(spec: MonitorSpec) -> dict:
    return {"name": f"rayship-{spec.model}", "rules": [*_recording_rules(spec), *_alerts(spec)]}


def _recording_rules(spec: MonitorSpec) -> list[dict]:
    # The champion is the version the gateway routes most traffic to; its live accuracy is what others are held to.
    model = _match(spec.model)
    weights = f"max by (model, version) (ray_rayship_route_weight{model})"
    champion = f"({weights} == on (model) group_left () max by (model) ({weights}))"
    accuracy = f"max by (model, version) (ray_rayship_live_accuracy{model})"
    return [{"record": CHAMPION_ACCURACY, "expr": f"max by (model) ({accuracy} and on (model, version) {champion})"}]


def _alerts(spec: MonitorSpec) -> list[dict]:
    alerts = spec.alerts
    model = _match(spec.model)
    unpinned = _match(spec.model, pinned="false")
    rate_window = _duration(alerts.rate_window_s)
    scored = f"on (model, version) (max by (model, version) (ray_rayship_drift_window_rows{model}) >= {spec.min_rows})"
    feature = _match(spec.model, statistic=spec.feature_drift.statistic)
    prediction = _match(spec.model, statistic=spec.prediction_drift.statistic)
    accuracy = f"max by (model, version) (ray_rayship_live_accuracy{model})"
    requests = f"sum by (model, version) (rate(ray_rayship_requests_total{unpinned}[{rate_window}]))"
    server_errors = _match(spec.model, pinned="false", code="~5..")
    errors = f"sum by (model, version) (rate(ray_rayship_errors_total{server_errors}[{rate_window}]))"
    latency = f"sum by (model, version, le) (rate(ray_rayship_latency_ms_bucket{model}[{rate_window}]))"
    routed = f"sum by (model) (max by (model, version) (ray_rayship_route_weight{model})) > 0"
    rules = [
        _alert(
            "RayshipFeatureDriftHigh",
            f"max by (model, version, feature) (ray_rayship_feature_drift{feature}) "
            f"> {spec.feature_drift.threshold} and {scored}",
            spec,
            "warning",
            "Feature {{ $labels.feature }} of {{ $labels.model }} v{{ $labels.version }} drifted",
            f'{spec.feature_drift.statistic} {{{{ $value | printf "%.3f" }}}} is above '
            f"{spec.feature_drift.threshold} on a window of at least {spec.min_rows} rows.",
        ),
        _alert(
            "RayshipPredictionDriftHigh",
            f"max by (model, version) (ray_rayship_prediction_drift{prediction}) "
            f"> {spec.prediction_drift.threshold} and {scored}",
            spec,
            "warning",
            "Predictions of {{ $labels.model }} v{{ $labels.version }} drifted",
            f'{spec.prediction_drift.statistic} {{{{ $value | printf "%.3f" }}}} is above '
            f"{spec.prediction_drift.threshold} against the holdout's predictions.",
        ),
        _alert(
            "RayshipLiveAccuracyBelowChampion",
            f"{accuracy} < on (model) group_left () ({CHAMPION_ACCURACY}{model} - {alerts.accuracy_drop_max})",
            spec,
            "warning",
            "{{ $labels.model }} v{{ $labels.version }} is less accurate than the champion",
            f'Live accuracy {{{{ $value | printf "%.3f" }}}} is more than {alerts.accuracy_drop_max} below the '
            "accuracy of the version at most traffic.",
        ),
        _alert(
            "RayshipErrorRateHigh",
            f"{errors} / {requests} > {alerts.error_rate_max}",
            spec,
            "critical",
            "{{ $labels.model }} v{{ $labels.version }} answers with server errors",
            f"{{{{ $value | humanizePercentage }}}} of unpinned requests failed with 5xx over {rate_window} "
            f"(threshold {alerts.error_rate_max:.0%}).",
        ),
        _alert(
            "RayshipLatencyP99High",
            f"histogram_quantile(0.99, {latency}) > {alerts.p99_latency_ms_max}",
            spec,
            "warning",
            "{{ $labels.model }} v{{ $labels.version }} is slow",
            f'p99 latency {{{{ $value | printf "%.0f" }}}} ms over {rate_window} is above '
            f"{alerts.p99_latency_ms_max:g} ms.",
        ),
        _alert(
            "RayshipNoTraffic",
            f"({routed}) unless on (model) "
            f"(sum by (model) (rate(ray_rayship_requests_total{model}[{rate_window}])) > 0)",
            spec,
            "info",
            "{{ $labels.model }} is routed but gets no traffic",
            f"The gateway routes {spec.model} but answered no request for {_duration(alerts.no_traffic_for_s)}.",
            for_s=alerts.no_traffic_for_s,
        ),
        _alert(
            "RayshipLabelsStopped",
            f"(sum by (model) (increase(ray_rayship_labels_total{model}[{rate_window}])) == 0) "
            f"and on (model) (sum by (model) (rate(ray_rayship_requests_total{model}[{rate_window}])) > 0)",
            spec,
            "warning",
            "Labels of {{ $labels.model }} stopped arriving",
            f"{spec.model} served traffic but no label was joined for {_duration(alerts.labels_stopped_for_s)}; "
            "live accuracy is going stale.",
            for_s=alerts.labels_stopped_for_s,
        ),
    ]
    if alerts.accuracy_floor is not None:
        rules.insert(
            2,
            _alert(
                "RayshipLiveAccuracyBelowFloor",
                f"{accuracy} < {alerts.accuracy_floor}",
                spec,
                "critical",
                "{{ $labels.model }} v{{ $labels.version }} is below its accuracy floor",
                f'Live accuracy {{{{ $value | printf "%.3f" }}}} is below the floor {alerts.accuracy_floor}.',
            ),
        )
    return rules


def _alert(
    name: str,
    expr: str,
    spec: MonitorSpec,
    severity: str,
    summary: str,
    description: str,
    *,
    for_s: float | None = None,
) -> dict:
    hold = spec.alerts.for_s if for_s is None else for_s
    return {
        "alert": name,
        "expr": expr,
        "for": _duration(hold),
        "labels": {"severity": severity, "model": spec.model},
        "annotations": {"summary": summary, "description": description},
    }


def _match(model: str, **labels: str) -> str:
    """A label matcher `{model="iris",...}`; a value starting with `~` is a regex match."""
    pairs = {"model": model, **labels}
    parts = [f'{key}=~"{value[1:]}"' if value.startswith("~") else f'{key}="{value}"' for key, value in pairs.items()]
    return "{" + ",".join(parts) + "}"


def _duration(seconds: float) -> str:
    """Prometheus' duration syntax: whole seconds as `90s`, anything finer in milliseconds."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"
