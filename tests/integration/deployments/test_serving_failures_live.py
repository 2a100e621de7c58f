"""Failures on the real local cluster: a version replica killed under load, and a model that cannot predict."""

from __future__ import annotations

import os
import signal
from collections import Counter

from scripts.example_models import register_dead

MODEL = "iris-serving"  # the model the `two_versions` fixture registers
ROW = [5.1, 3.5, 1.4, 0.2]


def replica_pids(serve_api, app: str) -> list[int]:
    deployment = serve_api.applications()[app]["deployments"]["ModelVersion"]
    return [replica["pid"] for replica in deployment["replicas"] if replica["state"] == "RUNNING"]


def stats_of(serve_api, version: str) -> dict:
    stats = serve_api.http.get(f"/-/rayship/stats?model={MODEL}", headers=serve_api.admin).json()
    return stats["versions"].get(version, {"requests": 0, "errors": {}})


def test_a_killed_candidate_replica_fails_over_to_the_champion_and_counts_against_the_candidate(
    serve_api, two_versions, baseline
) -> None:
    v1, v2 = two_versions
    apps = [serve_api.version_app(v1), serve_api.version_app(v2)]
    # Every request tries the candidate first, so its death is certain to meet live traffic.
    serve_api.apply(apps, serve_api.weights((v1, 0), (v2, 100)))  # champion: v1, the first
    before = stats_of(serve_api, v2.version)
    try:
        with serve_api.steady_load() as (statuses, served_by):
            serve_api.wait(lambda _: served_by[v2.version] >= 20, "traffic on the candidate", timeout_s=120)
            (pid,) = replica_pids(serve_api, f"{MODEL}-v{v2.version}")
            os.kill(pid, signal.SIGKILL)
            serve_api.wait(lambda _: served_by[v1.version] >= 5, "failover to the champion", timeout_s=120)
            serve_api.wait(
                lambda apps: any(p != pid for p in replica_pids(serve_api, f"{MODEL}-v{v2.version}")),
                "Serve to replace the killed replica",
            )
            serve_api.wait(
                lambda _: stats_of(serve_api, v2.version)["requests"] - before["requests"] >= served_by[v2.version],
                "the candidate's counters to catch up",
                timeout_s=30,
            )
    finally:
        serve_api.apply(*baseline)
    assert statuses == Counter({200: statuses[200]}), statuses  # failover hid the death from every user
    after = stats_of(serve_api, v2.version)
    failed = sum(n for code, n in after["errors"].items() if code.startswith("5")) - sum(
        n for code, n in before["errors"].items() if code.startswith("5")
    )
    assert failed >= 1, after  # the failures still count against the candidate
    assert failed == served_by[v1.version], (failed, served_by)  # one failed try per request the champion answered


def test_a_model_that_cannot_predict_fails_its_health_check_and_the_others_keep_serving(serve_api, baseline) -> None:
    apps, config = baseline
    dead = register_dead(MODEL, experiment="serving-integration", sweep_id="serving-it")
    name = f"{MODEL}-v{dead.version}"
    serve_api.deploy(serve_api.config([*apps, serve_api.version_app(dead)], config))
    try:
        failed = serve_api.wait(
            lambda a: (
                a.get(name, {}).get("deployments", {}).get("ModelVersion", {}).get("status") == "UNHEALTHY"
                or a.get(name, {}).get("status") in ("DEPLOY_FAILED", "UNHEALTHY")
            ),
            "the health check to report the dead model",
        )
        message = failed[name]["deployments"]["ModelVersion"]["message"]
        assert "health check" in message.lower(), message
        response = serve_api.http.post(f"/v1/models/{MODEL}:predict", json={"instances": [ROW]})
        assert response.status_code == 200
    finally:
        serve_api.apply(apps, config)
