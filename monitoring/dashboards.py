"""rayship's Grafana dashboard, built in code: one model at a time, its versions side by side.

Built with the Grafana Foundation SDK rather than written as JSON because the queries are the part that rots: here
each is composed from one selector and a few helpers, a panel is a title, a description, a unit and its queries
(ids and grid positions follow from the order), and the unit tests parse every query and check each series it
names against `monitoring.metric_names`. `python -m kuberay`
(make render) writes `dashboard_json()` to the ConfigMap the KubeRay base ships and to
`monitoring/grafana/rayship-models.json`, the file a local Grafana imports; neither is edited by hand.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from pydantic import BaseModel, ConfigDict, Field

UID = "rayship-models"
TITLE = "rayship: models and versions"
GRID_COLUMNS = 24
PANEL_HEIGHT = 8

DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE_WINDOW = "$__rate_interval"
VERSIONS = '{model="$model",version=~"$version"}'
MODEL = '{model="$model"}'
# A version's Serve application is `<model>-v<version>` (`deployments.app_config.version_app_name`); Grafana expands
# a multi-valued `$version` to `(1|2)` and "All" to `.*`, both regexes.
VERSION_APPS = '{application=~"$model-v$version"}'
DRIFT_STATISTICS = ("psi", "js")
QUANTILES = (0.5, 0.99)


class Query(BaseModel):
    """One panel target: a PromQL expression and the legend of the series it returns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: str
    legend: str = "v{{version}}"


class PanelSpec(BaseModel):
    """What one panel shows; its id and grid position follow from its place in `rows()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...] = Field(min_length=1)
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = Field(default=8, ge=1, le=GRID_COLUMNS)


class RowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    panels: tuple[PanelSpec, ...] = Field(min_length=1)


def _rate(series: str, selector: str = VERSIONS) -> str:
    return f"rate({series}{selector}[{RATE_WINDOW}])"


def _sum_rate(series: str, by: str = "version", selector: str = VERSIONS) -> str:
    return f"sum by ({by}) ({_rate(series, selector)})"


def _quantile(quantile: float, histogram: str, by: str = "version", selector: str = VERSIONS) -> str:
    return f"histogram_quantile({quantile}, sum by ({by}, le) ({_rate(histogram + '_bucket', selector)}))"


def _mean(histogram: str) -> str:
    return f"{_sum_rate(histogram + '_sum')} / {_sum_rate(histogram + '_count')}"


def _gauge(series: str, by: str = "version", selector: str = VERSIONS) -> str:
    # Ray adds the exporting worker's labels (WorkerId, instance, ...) to every series: a restarted actor or a
    # second replica would otherwise draw a line of its own.
    return f"max by ({by}) ({series}{selector})"


def _quantiles(
    histogram: str, by: str = "version", selector: str = VERSIONS, legend: str = "v{{version}}"
) -> tuple[Query, ...]:
    return tuple(
        Query(expr=_quantile(quantile, histogram, by, selector), legend=f"{legend} p{round(quantile * 100)}")
        for quantile in QUANTILES
    )


def _share(part: str, whole: str) -> str:
    # A counter has no series until its first increment (no error yet, no shadow row agreed yet): `or whole * 0`
    # draws such a version at zero instead of leaving it out.
    return f"({part} or {whole} * 0) / {whole}"


def _traffic_row() -> RowSpec:
    requests = _sum_rate("ray_rayship_requests_total")
    errors = _sum_rate("ray_rayship_errors_total")
    return RowSpec(
        title="Traffic",
        panels=(
            PanelSpec(
                title="Requests per second",
                description="Gateway requests per version, pinned by the client or not (ray_rayship_requests_total).",
                unit="reqps",
                queries=(Query(expr=requests),),
            ),
            PanelSpec(
                title="Error ratio",
                description="Failed requests (any status of 400 and up) over all requests, per version.",
                unit="percentunit",
                queries=(Query(expr=_share(errors, requests)),),
            ),
            PanelSpec(
                title="Errors per second by status",
                description="Failed gateway requests per version and HTTP status (ray_rayship_errors_total).",
                unit="reqps",
                queries=(
                    Query(
                        expr=_sum_rate("ray_rayship_errors_total", by="version, code"), legend="v{{version}} {{code}}"
                    ),
                ),
            ),
        ),
    )


def _latency_row() -> RowSpec:
    return RowSpec(
        title="Latency and batching",
        panels=(
            PanelSpec(
                title="Latency p50",
                description="Median gateway latency of successful requests per version (ray_rayship_latency_ms).",
                unit="ms",
                queries=(_quantiles("ray_rayship_latency_ms")[0],),
            ),
            PanelSpec(
                title="Latency p99",
                description="99th percentile gateway latency of successful requests per version.",
                unit="ms",
                queries=(_quantiles("ray_rayship_latency_ms")[1],),
            ),
            PanelSpec(
                title="Batch size",
                description="Rows in the model call that served each successful request: median and mean per version.",
                unit="short",
                queries=(
                    _quantiles("ray_rayship_batch_size")[0],
                    Query(expr=_mean("ray_rayship_batch_size"), legend="v{{version}} mean"),
                ),
            ),
        ),
    )


def _rollout_row() -> RowSpec:
    return RowSpec(
        title="Rollout and replicas",
        panels=(
            PanelSpec(
                title="Route weights",
                description="The traffic policy's weight of each version, in percent of the model's traffic.",
                unit="percent",
                queries=(Query(expr=_gauge("ray_rayship_route_weight", selector=MODEL)),),
            ),
            PanelSpec(
                title="Shadow agreement",
                description="Share of the rows mirrored to a shadow version whose answer equalled the live one.",
                unit="percentunit",
                queries=(
                    Query(
                        expr=_share(
                            _sum_rate("ray_rayship_shadow_rows_agreed_total"),
                            _sum_rate("ray_rayship_shadow_rows_compared_total"),
                        )
                    ),
                ),
            ),
            PanelSpec(
                title="Replicas",
                description="Healthy replicas and the autoscaler's target per version application (Ray Serve).",
                unit="short",
                queries=(
                    Query(
                        expr=f"sum by (application, deployment) (ray_serve_deployment_replica_healthy{VERSION_APPS})",
                        legend="{{application}} healthy",
                    ),
                    Query(
                        expr=_gauge(
                            "ray_serve_autoscaling_target_replicas", by="application, deployment", selector=VERSION_APPS
                        ),
                        legend="{{application}} target",
                    ),
                ),
            ),
            PanelSpec(
                title="Replica processing latency",
                description="Time the version replicas spent on each call, p50 and p99 (Ray Serve; no gateway hop).",
                unit="ms",
                width=24,
                queries=_quantiles(
                    "ray_serve_deployment_processing_latency_ms", "application", VERSION_APPS, "{{application}}"
                ),
            ),
        ),
    )


def _drift_row() -> RowSpec:
    statistic = '{model="$model",version=~"$version",statistic="$statistic"}'
    return RowSpec(
        title="Drift",
        panels=(
            PanelSpec(
                title="Feature drift",
                description="Each feature's distance from its reference over the drift window ($statistic).",
                unit="short",
                width=6,
                queries=(
                    Query(
                        expr=_gauge("ray_rayship_feature_drift", by="version, feature", selector=statistic),
                        legend="v{{version}} {{feature}}",
                    ),
                ),
            ),
            PanelSpec(
                title="Prediction drift",
                description="The predictions' distance from the holdout's, by the statistic the spec chose.",
                unit="short",
                width=6,
                queries=(
                    Query(
                        expr=_gauge("ray_rayship_prediction_drift", by="version, statistic"),
                        legend="v{{version}} {{statistic}}",
                    ),
                ),
            ),
            PanelSpec(
                title="Drift window rows",
                description="Rows in each version's drift window; below the spec's min_rows nothing is scored.",
                unit="short",
                width=6,
                queries=(Query(expr=_gauge("ray_rayship_drift_window_rows")),),
            ),
            PanelSpec(
                title="Drift detected",
                description="Whether the latest drift window drifted; no value while the window is unscored.",
                unit="none",
                kind="stat",
                width=6,
                queries=(Query(expr=_gauge("ray_rayship_drift_detected")),),
            ),
        ),
    )


def _accuracy_row() -> RowSpec:
    return RowSpec(
        title="Labels and live accuracy",
        panels=(
            PanelSpec(
                title="Live accuracy",
                description="Accuracy over the label window per version (classifiers, once it has min_labels).",
                unit="percentunit",
                queries=(Query(expr=_gauge("ray_rayship_live_accuracy")),),
            ),
            PanelSpec(
                title="Live error",
                description="Mean absolute and root mean squared error over the label window (regressors).",
                unit="short",
                queries=(
                    Query(expr=_gauge("ray_rayship_live_mae"), legend="v{{version}} MAE"),
                    Query(expr=_gauge("ray_rayship_live_rmse"), legend="v{{version}} RMSE"),
                ),
            ),
            PanelSpec(
                title="Labels per second",
                description="Labelled rows joined with their prediction per version (ray_rayship_labels_total).",
                unit="cps",
                queries=(Query(expr=_sum_rate("ray_rayship_labels_total")),),
            ),
            PanelSpec(
                title="Label delay",
                description="Seconds from a prediction to its label, p50 and p99 per version.",
                unit="s",
                width=12,
                queries=_quantiles("ray_rayship_label_delay_s"),
            ),
            PanelSpec(
                title="Feedback items by outcome",
                description="Feedback items per second: accepted, unknown, expired, duplicate or mismatched.",
                unit="cps",
                width=12,
                queries=(
                    Query(
                        expr=_sum_rate("ray_rayship_feedback_items_total", by="outcome", selector=MODEL),
                        legend="{{outcome}}",
                    ),
                ),
            ),
        ),
    )


def rows() -> tuple[RowSpec, ...]:
    """The dashboard's rows, top to bottom."""
    return (_traffic_row(), _latency_row(), _rollout_row(), _drift_row(), _accuracy_row())


def _variables() -> list[cogbuilder.Builder[models.VariableModel]]:
    every = models.VariableOption(selected=True, text="All", value="$__all")
    return [
        dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        dashboard.QueryVariable("model")
        .label("Model")
        .datasource(DATASOURCE)
        .query("label_values(ray_rayship_requests_total, model)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC),
        dashboard.QueryVariable("version")
        .label("Version")
        .datasource(DATASOURCE)
        .query('label_values(ray_rayship_requests_total{model="$model"}, version)')
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.NUMERICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(every),
        dashboard.CustomVariable("statistic")
        .label("Feature drift statistic")
        .values(",".join(DRIFT_STATISTICS))
        .current(models.VariableOption(selected=True, text=DRIFT_STATISTICS[0], value=DRIFT_STATISTICS[0])),
    ]


def _targets(spec: PanelSpec) -> list[prometheus.Dataquery]:
    return [
        prometheus.Dataquery().ref_id(chr(ord("A") + index)).expr(query.expr).legend_format(query.legend)
        for index, query in enumerate(spec.queries)
    ]


def _timeseries(spec: PanelSpec) -> timeseries.Panel:
    legend = (
        common.VizLegendOptions()
        .display_mode(common_models.LegendDisplayMode.TABLE)
        .placement(common_models.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )
    tooltip = common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI).sort(common_models.SortOrder.NONE)
    return timeseries.Panel().targets(_targets(spec)).legend(legend).tooltip(tooltip)


def _drift_stat(spec: PanelSpec) -> stat.Panel:
    states = models.ValueMap(
        options={
            "0": models.ValueMappingResult(text="ok", color="green", index=0),
            "1": models.ValueMappingResult(text="drift", color="red", index=1),
        }
    )
    thresholds = (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=None, color="green"), models.Threshold(value=1, color="red")])
    )
    return (
        stat.Panel()
        .targets(_targets(spec))
        .mappings([states])
        .thresholds(thresholds)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def _panel(spec: PanelSpec, panel_id: int, grid: models.GridPos) -> timeseries.Panel | stat.Panel:
    panel = _drift_stat(spec) if spec.kind == "stat" else _timeseries(spec)
    return (
        panel.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .unit(spec.unit)
        .datasource(DATASOURCE)
        .grid_pos(grid)
    )


def _add_row(board: dashboard.Dashboard, row: RowSpec, first_id: int, top: int) -> tuple[int, int]:
    """Add `row` at grid line `top`, its panels left to right; return the next free id and grid line."""
    board.with_row(dashboard.Row(row.title).id(first_id).grid_pos(models.GridPos(h=1, w=GRID_COLUMNS, x=0, y=top)))
    panel_id, x, y = first_id + 1, 0, top + 1
    for spec in row.panels:
        if x + spec.width > GRID_COLUMNS:
            x, y = 0, y + PANEL_HEIGHT
        board.with_panel(_panel(spec, panel_id, models.GridPos(h=PANEL_HEIGHT, w=spec.width, x=x, y=y)))
        panel_id, x = panel_id + 1, x + spec.width
    return panel_id, y + PANEL_HEIGHT


def _board() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .description("Generated by monitoring/dashboards.py (make render): edit the code, not this JSON.")
        .tags(["rayship", "ray-serve"])
        .editable()
        .timezone("utc")
        .refresh("10s")
        .time("now-1h", "now")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .variables(_variables())
    )


def build_dashboard() -> dict[str, Any]:
    """The dashboard's JSON model, as Grafana imports it."""
    board, panel_id, top = _board(), 1, 0
    for row in rows():
        panel_id, top = _add_row(board, row, panel_id, top)
    return json.loads(json.dumps(board.build(), cls=JSONEncoder))


def dashboard_json() -> str:
    """`build_dashboard()` as stable text: sorted keys, so a change to the code is a readable diff of the file."""
    return json.dumps(build_dashboard(), indent=2, sort_keys=True) + "\n"


def panel_queries(model: dict[str, Any]) -> list[str]:
    """Every panel target's PromQL expression in a dashboard JSON model, rows' nested panels included."""
    return [target["expr"] for panel in _panels(model["panels"]) for target in panel.get("targets", [])]


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for panel in panels for p in (panel, *_panels(panel.get("panels", [])))]
