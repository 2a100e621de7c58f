"""The Grafana dashboard: every query parses and reads only series rayship or Ray Serve exports, every panel says
what it shows, and the rendered copies on disk are the code's output."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from deployments.app_config import version_app_name
from monitoring.dashboards import UID, build_dashboard, dashboard_json, panel_queries
from monitoring.metric_names import HISTOGRAM_SUFFIXES, RAYSHIP_SERIES, SERVE_SERIES
from tests.unit.monitoring.promql_helpers import matchers, selectors, series_name, substitute

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
RENDERED = ("kuberay/base/generated/grafana-dashboard.json", f"monitoring/grafana/{UID}.json")
# The files that declare rayship's Prometheus metrics (`ray.serve.metrics` / `ray.util.metrics`).
DECLARING_FILES = ("deployments/gateway/prometheus.py", "monitoring/actor.py")
GRID_COLUMNS = 24


def declared_series(path: Path) -> set[str]:
    """The series Ray exports for the metrics a file declares: `ray_` prefix, counters `_total`, histograms split."""
    series = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        kind = getattr(node, "func", None)
        kind = getattr(kind, "id", getattr(kind, "attr", None))
        if kind not in ("Counter", "Gauge", "Histogram") or not node.args:
            continue
        name = node.args[0]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        series.update(exported(kind, f"ray_{name.value}"))
    return series


def exported(kind: str, name: str) -> set[str]:
    if kind == "Counter":
        return {f"{name}_total"}
    if kind == "Histogram":
        return {name + suffix for suffix in HISTOGRAM_SUFFIXES}
    return {name}


def serve_source() -> Path:
    # The installed Ray's source, found without importing Ray.
    return Path(importlib.util.find_spec("ray").origin).parent / "serve"


def leaf_panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in model["panels"] if panel["type"] != "row"]


def cells(grid: dict[str, int]) -> set[tuple[int, int]]:
    return {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return build_dashboard()


@pytest.fixture(scope="module")
def queries(dashboard: dict[str, Any]) -> list[str]:
    return panel_queries(dashboard)


def test_every_panel_has_a_title_description_unit_and_a_query(dashboard: dict[str, Any]) -> None:
    incomplete = [
        panel.get("title", panel["id"])
        for panel in leaf_panels(dashboard)
        if not (panel.get("title") and panel.get("description") and panel["fieldConfig"]["defaults"].get("unit"))
        or not [target for target in panel.get("targets", []) if target.get("expr")]
    ]

    assert dashboard["uid"] == "rayship-models"
    assert dashboard["title"] == "rayship: models and versions"
    assert incomplete == []


def test_every_query_parses_once_grafana_variables_are_substituted(queries: list[str]) -> None:
    assert len(queries) >= 20
    for expr in queries:
        assert "$" not in substitute(expr), expr
        promql_parser.parse(substitute(expr))


def test_every_series_a_panel_reads_is_one_rayship_or_ray_serve_exports(queries: list[str]) -> None:
    known = set(RAYSHIP_SERIES) | set(SERVE_SERIES)
    read = {series_name(selector) for expr in queries for selector in selectors(expr)}

    assert read - known == set()
    assert {"ray_rayship_route_weight", "ray_serve_deployment_replica_healthy"} <= read


def test_every_selector_reads_one_model(queries: list[str]) -> None:
    # A rayship series is per model; a Serve series is per application, which names the model.
    def scoped(labels: dict[str, str]) -> bool:
        return labels.get("model") == "iris" or labels.get("application", "").startswith("iris-")

    unscoped = [str(selector) for expr in queries for selector in selectors(expr) if not scoped(matchers(selector))]

    assert unscoped == []


def test_the_replica_panels_select_exactly_the_model_s_version_apps(queries: list[str]) -> None:
    patterns = {
        matchers(selector)["application"]
        for expr in queries
        for selector in selectors(expr)
        if series_name(selector) in SERVE_SERIES
    }

    assert len(patterns) == 1
    # Prometheus anchors label regexes at both ends.
    pattern = re.compile(patterns.pop())
    assert pattern.fullmatch(version_app_name("iris", "3"))
    assert not pattern.fullmatch(version_app_name("wine", "3"))
    assert not pattern.fullmatch("gateway")


def test_rayship_series_are_exactly_what_the_gateway_and_the_monitor_declare() -> None:
    declared = set().union(*(declared_series(REPO / path) for path in DECLARING_FILES))

    assert set(RAYSHIP_SERIES) == declared
    assert len(RAYSHIP_SERIES) == len(set(RAYSHIP_SERIES))


def test_the_serve_series_are_declared_by_the_installed_ray_serve() -> None:
    declared = set().union(*(declared_series(path) for path in sorted(serve_source().rglob("*.py"))))

    assert set(SERVE_SERIES) - declared == set()


def test_ids_are_unique_and_panels_tile_the_grid(dashboard: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    overlapping = []
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
        covered = cells(grid)
        overlapping += [panel["title"]] if covered & taken else []
        taken |= covered

    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert overlapping == []


def test_the_variables_pick_one_model_and_any_of_its_versions(dashboard: dict[str, Any]) -> None:
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["model"]["query"] == "label_values(ray_rayship_requests_total, model)"
    assert not variables["model"]["multi"]
    assert variables["version"]["query"] == 'label_values(ray_rayship_requests_total{model="$model"}, version)'
    assert variables["version"]["multi"] and variables["version"]["includeAll"]
    assert variables["version"]["allValue"] == ".*"
    assert all(
        panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for panel in leaf_panels(dashboard)
    )


def test_the_json_is_deterministic_and_the_rendered_copies_are_current() -> None:
    text = dashboard_json()

    assert dashboard_json() == text
    assert text.endswith("}\n")
    for path in RENDERED:
        assert (REPO / path).read_text() == text, f"{path} is stale: run `make render`"
