"""Model monitoring on the real cluster: replicas bin live rows into the version's reference profile, the monitor
actor scores sliding windows, the gateway's admin route and Ray's Prometheus endpoint show the drift.

Traffic is drawn from iris itself (the reference), then the same rows with one feature shifted.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris

from cluster.settings import ClusterSettings
from deployments import app_config
from monitoring.spec import LabelSpec, MonitorSpec, WindowSpec
from registry import tags
from registry.api import PinnedVersion
from registry.catalog import set_model_tag
from scripts.example_models import register_iris

MODEL = "iris-monitored"
SHIFTED = "petal length (cm)"
SPEC = MonitorSpec(
    model=MODEL,
    min_rows=100,
    window=WindowSpec(rows=300, seconds=120, bucket_s=1),
    labels=LabelSpec(min_labels=20, window=WindowSpec(rows=1000, seconds=600, bucket_s=1)),
)
ROWS_PER_REQUEST = 10
FAST_PUSH = {"monitor_push_interval_s": 0.5}
VERSION_OPTIONS = {"num_replicas": 1, "max_ongoing_requests": 64, "ray_actor_options": {"num_cpus": 0.1}}


@pytest.fixture(scope="module")
def monitored(serve_api, cluster: ClusterSettings) -> tuple[PinnedVersion, PinnedVersion]:
    """v1 with its profile and v2 registered without one, both served; the spec stored before they start."""
    profiled = register_iris(MODEL, experiment="monitoring-integration", sweep_id="monitoring-it")
    bare = register_iris(MODEL, experiment="monitoring-integration", sweep_id="monitoring-it", with_profile=False)
    set_model_tag(MODEL, tags.MONITORING_SPEC, SPEC.model_dump_json())
    apps = [
        app_config.version_app(p.name, p.version, deployment=dict(VERSION_OPTIONS), args=FAST_PUSH)
        for p in (profiled, bare)
    ]
    versions = [{"version": p.version, "app": app_config.version_app_name(MODEL, p.version), "weight": w}
                for p, w in ((profiled, 100), (bare, 0))]  # fmt: skip
    serve_api.apply(
        apps, {"models": {MODEL: {"versions": versions, "champion": profiled.version, "allow_pinning": True}}}
    )
    return profiled, bare


def send(serve_api, version: str, rows: np.ndarray) -> None:
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        body = {
            "inputs": [{"name": "x", "shape": list(chunk.shape), "datatype": "FP64", "data": chunk.ravel().tolist()}]
        }
        response = serve_api.http.post(f"/v2/models/{MODEL}/versions/{version}/infer", json=body)
        assert response.status_code == 200, response.text


def status(serve_api) -> dict:
    response = serve_api.http.get("/-/rayship/monitoring", params={"model": MODEL}, headers=serve_api.admin)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(serve_api, version: str, done, what: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = status(serve_api)["versions"].get(version)
        if state is not None and done(state):
            return state
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {json.dumps(status(serve_api))[:2000]}")


def reference_rows(n: int, seed: int) -> np.ndarray:
    features = load_iris().data
    return features[np.random.default_rng(seed).integers(0, len(features), n)]


def by_feature(state: dict) -> dict[str, dict]:
    return {feature["feature"]: feature for feature in state["drift"]["features"]}


def test_undrifted_traffic_stays_below_and_one_shifted_feature_crosses_within_two_windows(serve_api, monitored):
    profiled, _ = monitored
    window = SPEC.window.rows

    send(serve_api, profiled.version, reference_rows(window, seed=1))
    calm = wait_for(serve_api, profiled.version, lambda s: s["drift"]["rows"] >= window, "a full undrifted window")
    assert calm["drift"]["verdict"] == "ok", calm
    assert all(f["score"] < SPEC.feature_drift.threshold for f in calm["drift"]["features"]), calm

    shifted = reference_rows(2 * window, seed=2)
    shifted[:, 2] += 2.5  # petal length, by about one and a half of its standard deviations
    send(serve_api, profiled.version, shifted)

    drifted = wait_for(serve_api, profiled.version, lambda s: s["drift"]["verdict"] == "drift", "drift")
    features = by_feature(drifted)
    assert features[SHIFTED]["drifted"] and features[SHIFTED]["score"] > SPEC.feature_drift.threshold
    assert drifted["drift"]["features"][0]["feature"] == SHIFTED
    others = {name: f["score"] for name, f in features.items() if name != SHIFTED}
    assert all(score < SPEC.feature_drift.threshold for score in others.values()), others
    assert status(serve_api)["spec_source"] == "registry"


def test_a_version_registered_without_profile_serves_and_says_so(serve_api, monitored):
    _, bare = monitored

    send(serve_api, bare.version, reference_rows(20, seed=3))

    state = wait_for(serve_api, bare.version, lambda s: True, "the bare version's report")
    assert state["drift"]["verdict"] == "no reference profile"


def test_the_drift_gauges_reach_rays_metrics_endpoint_with_their_labels(serve_api, monitored, cluster):
    profiled, _ = monitored
    pattern = re.compile(
        r'^ray_rayship_feature_drift\{[^}]*feature="petal length \(cm\)"[^}]*model="iris-monitored"[^}]*'
        r'statistic="psi"[^}]*version="' + profiled.version + r'"[^}]*\} (\S+)$',
        re.MULTILINE,
    )
    deadline, text = time.monotonic() + 90, ""
    while time.monotonic() < deadline:
        text = httpx.get(cluster.metrics_url, timeout=10).text
        if pattern.search(text) and "ray_rayship_drift_window_rows{" in text:
            break
        time.sleep(2)
    found = pattern.search(text)
    assert found, [line for line in text.splitlines() if "rayship_feature_drift" in line][:5]
    assert float(found.group(1)) >= 0
    assert re.search(r'^ray_rayship_drift_detected\{[^}]*model="iris-monitored"', text, re.MULTILINE)


def labelled_requests(serve_api, version: str, rows: np.ndarray, labels: np.ndarray) -> tuple[list[dict], float]:
    """One request per row, half with an OIP id and half known only by the response's x-request-id; the labels
    to send for them, and the accuracy they should give (computed from the answers)."""
    items, correct = [], 0
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": row.tolist()}]}
        if index % 2:
            body["id"] = f"label-test-{version}-{index}"
        response = serve_api.http.post(f"/v2/models/{MODEL}/versions/{version}/infer", json=body)
        assert response.status_code == 200, response.text
        request_id = body.get("id") or response.headers["x-request-id"]
        predicted = response.json()["outputs"][0]["data"][0]
        items.append({"request_id": request_id, "label": int(label)})
        correct += int(predicted == int(label))
    return items, correct / len(rows)


def test_labels_sent_for_served_requests_give_each_versions_accuracy(serve_api, monitored):
    profiled, bare = monitored
    data = load_iris()
    picked = np.random.default_rng(4).integers(0, len(data.data), 60)
    rows, truth = data.data[picked], data.target[picked]
    good_items, good_accuracy = labelled_requests(serve_api, profiled.version, rows, truth)
    wrong_items, wrong_accuracy = labelled_requests(serve_api, bare.version, rows, (truth + 1) % 3)  # mislabelled
    time.sleep(1.0)  # the gateway sends served predictions to the monitor every 0.5 s

    answers = [
        serve_api.http.post(f"/v2/models/{MODEL}/feedback", json={"labels": items})
        for items in (good_items, wrong_items, [{"request_id": "never-served", "label": 0}])
    ]

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json() == {"accepted": 60, "unknown": 0, "expired": 0, "duplicate": 0, "mismatched": []}
    assert answers[2].json()["unknown"] == 1
    versions = status(serve_api)["versions"]
    good, wrong = versions[profiled.version]["accuracy"], versions[bare.version]["accuracy"]
    assert good["verdict"] == "ok" and good["labels"] == 60
    assert good["accuracy"] == pytest.approx(good_accuracy) and good_accuracy > 0.9
    assert wrong["accuracy"] == pytest.approx(wrong_accuracy) and wrong_accuracy < 0.1
    assert status(serve_api)["labels"]["unknown"] >= 1
