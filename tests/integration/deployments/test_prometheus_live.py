"""The local Prometheus `cluster up` started, after real traffic: every series a dashboard panel or an alert rule
reads is scraped, the rules are loaded, and the targets are Ray's nodes.

Traffic covers every kind of series: a classifier with labels, a regressor with labels (MAE and RMSE), a shadow
version (agreement counters) and one bad request (the error counter).
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris

from cluster.settings import ClusterSettings
from deployments import app_config
from monitoring.metric_names import RAYSHIP_SERIES, SERVE_SERIES
from monitoring.spec import LabelSpec, MonitorSpec, WindowSpec
from registry import tags
from registry.api import PinnedVersion
from registry.catalog import set_model_tag
from scripts.example_models import register_iris, register_petal_width_regressor

CLASSIFIER, REGRESSOR = "iris-scraped", "iris-petal-width"
VERSION_OPTIONS = {"num_replicas": 1, "max_ongoing_requests": 64, "ray_actor_options": {"num_cpus": 0.1}}
FAST_PUSH = {"monitor_push_interval_s": 0.5}
SCRAPE_TIMEOUT_S = 120.0


def spec(model: str) -> MonitorSpec:
    return MonitorSpec(
        model=model,
        min_rows=30,
        window=WindowSpec(rows=300, seconds=120, bucket_s=1),
        labels=LabelSpec(min_labels=10, window=WindowSpec(rows=1000, seconds=600, bucket_s=1)),
    )


@pytest.fixture(scope="module")
def scraped(serve_api, cluster: ClusterSettings) -> dict[str, PinnedVersion]:
    experiment, sweep = "prometheus-integration", "prometheus-it"
    versions = {
        "v1": register_iris(CLASSIFIER, experiment=experiment, sweep_id=sweep),
        "v2": register_iris(CLASSIFIER, experiment=experiment, sweep_id=sweep),
        "regressor": register_petal_width_regressor(REGRESSOR, experiment=experiment, sweep_id=sweep),
    }
    for model in (CLASSIFIER, REGRESSOR):
        set_model_tag(model, tags.MONITORING_SPEC, spec(model).model_dump_json())
    apps = [
        app_config.version_app(p.name, p.version, deployment=dict(VERSION_OPTIONS), args=FAST_PUSH)
        for p in versions.values()
    ]

    def route(pinned: PinnedVersion, weight: int) -> dict:
        return {
            "version": pinned.version,
            "app": app_config.version_app_name(pinned.name, pinned.version),
            "weight": weight,
        }

    models = {
        CLASSIFIER: {
            "versions": [route(versions["v1"], 100), route(versions["v2"], 0)],
            "shadow": {"version": versions["v2"].version, "percent": 100},
        },
        REGRESSOR: {"versions": [route(versions["regressor"], 100)]},
    }
    serve_api.apply(apps, {"models": models})
    return versions


def infer(serve_api, model: str, row: list[float]) -> httpx.Response:
    body = {"inputs": [{"name": "x", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
    return serve_api.http.post(f"/v2/models/{model}/infer", json=body)


def labelled_traffic(serve_api, model: str, rows: np.ndarray, labels: np.ndarray) -> None:
    items = []
    for row, label in zip(rows, labels, strict=True):
        answer = infer(serve_api, model, row.tolist())
        assert answer.status_code == 200, answer.text
        items.append({"request_id": answer.headers["x-request-id"], "label": label.item()})
    time.sleep(1.0)  # the gateway sends served predictions to the monitor every 0.5 s
    answer = serve_api.http.post(f"/v2/models/{model}/feedback", json={"labels": items})
    assert answer.status_code == 200 and answer.json()["accepted"] == len(items), answer.text


def scraped_names(prometheus_url: str, versions: dict[str, PinnedVersion]) -> set[str]:
    """Names of the series Prometheus holds now for this module's versions: a cluster reused across runs (and
    Prometheus' data in `.rayship/`) still has the series of earlier versions, which must not count."""
    models = "|".join(sorted({p.name for p in versions.values()}))
    numbers = "|".join(sorted({p.version for p in versions.values()}))
    apps = "|".join(app_config.version_app_name(p.name, p.version) for p in versions.values())
    selectors = (
        f'{{__name__=~"ray_rayship_.+",model=~"{models}",version=~"{numbers}"}}',
        f'{{__name__="ray_rayship_feedback_items_total",model=~"{models}"}}',  # per model, no version
        f'{{__name__=~"ray_serve_.+",application=~"{apps}"}}',
    )
    names: set[str] = set()
    for selector in selectors:
        answer = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": f"group by (__name__) ({selector})"})
        answer.raise_for_status()
        names |= {series["metric"]["__name__"] for series in answer.json()["data"]["result"]}
    return names


def test_every_series_a_panel_or_a_rule_reads_reaches_the_local_prometheus(serve_api, scraped, cluster):
    data = load_iris()
    picked = np.random.default_rng(5).integers(0, len(data.data), 80)
    labelled_traffic(serve_api, CLASSIFIER, data.data[picked], data.target[picked])
    labelled_traffic(serve_api, REGRESSOR, data.data[picked][:, :3], data.data[picked][:, 3])
    assert infer(serve_api, CLASSIFIER, [1.0, 2.0, 3.0]).status_code == 400  # three features of four

    wanted = set(RAYSHIP_SERIES) | set(SERVE_SERIES)
    deadline, missing = time.monotonic() + SCRAPE_TIMEOUT_S, wanted
    while time.monotonic() < deadline:
        missing = wanted - scraped_names(cluster.prometheus_url, scraped)
        if not missing:
            break
        time.sleep(3)
    assert not missing, f"not scraped within {SCRAPE_TIMEOUT_S:.0f} s: {sorted(missing)}"


def test_prometheus_scrapes_every_ray_node_and_evaluates_the_alert_rules(cluster):
    targets = httpx.get(f"{cluster.prometheus_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    head_metrics = f":{cluster.metrics_port}/metrics"
    assert any(t["scrapeUrl"].endswith(head_metrics) and t["health"] == "up" for t in targets), targets
    assert {t["labels"]["job"] for t in targets} == {"ray"}
    groups = httpx.get(f"{cluster.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    iris = next(group for group in groups if group["name"] == "rayship-iris")
    assert {rule["name"] for rule in iris["rules"]} >= {"RayshipFeatureDriftHigh", "RayshipErrorRateHigh"}
    assert all(rule["health"] == "ok" for rule in iris["rules"]), iris["rules"]
