import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from monitoring.alert_rules import CHAMPION_ACCURACY, SEVERITIES, load_specs, prometheus_rule, rules_document
from monitoring.metric_names import RAYSHIP_SERIES
from monitoring.spec import MonitorSpec
from tests.unit.monitoring.promql_helpers import selectors, series_name

REPO = Path(__file__).resolve().parents[3]
SPECS = REPO / "configs" / "monitoring"
PROMTOOL_CASES = Path(__file__).with_name("alert_rules.promtool.yaml")
DURATION = r"^(0|[0-9]+(ms|s|m|h|d|w|y))+$"
PROMTOOL_MISSING = "promtool not installed (Debian package prometheus; `make setup` installs it)"


class _Rule(BaseModel):
    """A rule as the Prometheus Operator's PrometheusRule CRD (monitoring.coreos.com/v1) admits it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alert: str | None = None
    record: str | None = None
    expr: str = Field(min_length=1)
    for_: str | None = Field(None, alias="for", pattern=DURATION)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    rules: list[_Rule]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[_Group]


def alerts(document: dict) -> list[dict]:
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip(PROMTOOL_MISSING)
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules_document(load_specs(SPECS)), sort_keys=False))
    shutil.copy(PROMTOOL_CASES, tmp_path / "cases.yaml")
    return tmp_path


def test_promtool_accepts_the_rendered_rules(rules_dir):
    result = promtool("check", "rules", "rules.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_input_series_fire_exactly_the_expected_alerts(rules_dir):
    result = promtool("test", "rules", "cases.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_follows_the_kube_prometheus_conventions():
    document = rules_document(load_specs(SPECS))
    named = alerts(document)
    assert {rule["alert"] for rule in named} == {
        "RayshipFeatureDriftHigh",
        "RayshipPredictionDriftHigh",
        "RayshipLiveAccuracyBelowFloor",
        "RayshipLiveAccuracyBelowChampion",
        "RayshipErrorRateHigh",
        "RayshipLatencyP99High",
        "RayshipNoTraffic",
        "RayshipLabelsStopped",
    }
    for rule in named:
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", rule["alert"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES
        assert set(rule["annotations"]) == {"summary", "description"}


def test_thresholds_and_hold_times_come_from_the_spec():
    spec = MonitorSpec.model_validate(
        {
            "model": "wine",
            "min_rows": 40,
            "feature_drift": {"statistic": "js", "threshold": 0.3},
            "alerts": {"for_s": 90, "error_rate_max": 0.02, "no_traffic_for_s": 120},
        }
    )
    by_name = {rule["alert"]: rule for rule in alerts(rules_document([spec]))}
    drift = by_name["RayshipFeatureDriftHigh"]
    assert drift["expr"].startswith(
        'max by (model, version, feature) (ray_rayship_feature_drift{model="wine",statistic="js"}) > 0.3 and '
    )
    assert 'ray_rayship_drift_window_rows{model="wine"}) >= 40)' in drift["expr"]
    assert drift["for"] == "90s"
    assert by_name["RayshipErrorRateHigh"]["expr"].endswith("> 0.02")
    assert by_name["RayshipNoTraffic"]["for"] == "120s"
    assert "RayshipLiveAccuracyBelowFloor" not in by_name  # no floor in this spec


def test_the_kuberay_prometheus_rule_carries_the_same_groups_in_the_operators_schema():
    specs = load_specs(SPECS)
    manifest = prometheus_rule(specs)
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"] == rules_document(specs)
    _Spec.model_validate(manifest["spec"])


def test_every_series_a_rule_reads_is_one_rayship_exports_or_records():
    rules = [rule for group in rules_document(load_specs(SPECS))["groups"] for rule in group["rules"]]
    read = {series_name(selector) for rule in rules for selector in selectors(rule["expr"])}
    assert read <= set(RAYSHIP_SERIES) | {CHAMPION_ACCURACY}
    assert "ray_rayship_route_weight" in read and "ray_rayship_labels_total" in read
