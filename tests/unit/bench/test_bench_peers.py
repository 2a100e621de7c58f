"""The peer benchmark's pure parts: ratios against the best peer, the table, MLServer's settings, wrk's request."""

from __future__ import annotations

import json
import math
import re
from dataclasses import astuple
from importlib.metadata import version
from pathlib import Path

import pytest

from bench import bench_peers
from bench.peers import report
from bench.peers.fastapi_peer import PORT as FASTAPI_PORT
from bench.peers.load import lua_script, request_body, wrk_command
from bench.peers.mlserver import BATCHING_PORTS, DEFAULT_PORTS, model_settings, server_settings
from bench.peers.mlserver_venv import pins, stamp_text
from bench.peers.process import PinnedProcess, pinned
from bench.reference_models import REFERENCE_MODELS, _estimator, cache_path, mlserver_artifact

CELLS = ["rf@16", "xgb@16"]


def row(rps: float, p99: float, non_2xx: int = 0) -> dict:
    return {"requests_per_s": rps, "p50_ms": p99 / 2, "p99_ms": p99, "non_2xx": non_2xx}


def results_with(rayship: dict | None = None) -> report.Results:
    results = {
        "mlserver-batching": {"rf@16": row(400.0, 30.0), "xgb@16": row(900.0, 12.0)},
        "fastapi": {"rf@16": row(150.0, 20.0), "xgb@16": row(1800.0, 15.0, non_2xx=2)},
    }
    return {**({report.RAYSHIP: rayship} if rayship else {}), **results}


def test_each_metric_is_held_against_its_own_best_peer() -> None:
    results = results_with({"rf@16": row(500.0, 25.0), "xgb@16": row(1200.0, 10.0)})
    found = {(one.cell, one.metric): one for one in report.ratios(results, CELLS)}
    rf_rate, rf_p99 = found["rf@16", "throughput"], found["rf@16", "p99"]
    # The highest throughput (MLServer) and the lowest p99 (FastAPI) come from different peers.
    assert (rf_rate.best_peer, rf_rate.peer_value, rf_rate.ratio) == ("mlserver-batching", 400.0, 1.25)
    assert (rf_p99.best_peer, rf_p99.peer_value, rf_p99.ratio) == ("fastapi", 20.0, 1.25)
    assert rf_rate.met and not rf_p99.met
    xgb_rate, xgb_p99 = found["xgb@16", "throughput"], found["xgb@16", "p99"]
    assert (xgb_rate.best_peer, xgb_rate.ratio, xgb_rate.met) == ("fastapi", pytest.approx(2 / 3), False)
    assert (xgb_p99.best_peer, xgb_p99.ratio, xgb_p99.met) == ("mlserver-batching", pytest.approx(10 / 12), True)


def test_targets_are_inclusive() -> None:
    results = results_with({"rf@16": row(400.0, 20.0), "xgb@16": row(1800.0, 12.0)})
    assert all(one.ratio == 1.0 and one.met for one in report.ratios(results, CELLS))


def test_a_missing_p99_never_wins_and_never_meets_the_target() -> None:
    results = results_with({"rf@16": row(500.0, math.nan), "xgb@16": row(1200.0, 10.0)})
    results["fastapi"]["rf@16"]["p99_ms"] = math.nan
    rf_p99 = next(one for one in report.ratios(results, CELLS) if one.cell == "rf@16" and one.metric == "p99")
    assert rf_p99.best_peer == "mlserver-batching"
    assert math.isnan(rf_p99.ratio) and not rf_p99.met


def test_rayship_absent_or_alone_gives_no_ratios() -> None:
    assert report.ratios(results_with(), CELLS) == []
    assert report.ratio_lines(results_with(), CELLS) == ["rayship not measured: no ratios against the peers"]
    alone = {report.RAYSHIP: {"rf@16": row(1.0, 1.0), "xgb@16": row(1.0, 1.0)}}
    assert report.ratio_lines(alone, CELLS) == ["no peer measured: no ratios for rayship"]


def test_ratio_lines_name_the_peer_and_the_verdict() -> None:
    results = results_with({"rf@16": row(500.0, 25.0), "xgb@16": row(1200.0, 10.0)})
    lines = report.ratio_lines(results, CELLS)
    assert lines[0] == "rayship / best peer: throughput (target >= 1.0), p99 (target <= 1.0)"
    assert lines[1] == "  RF c=16    throughput   1.25  (rayship 500.0 req/s vs mlserver-batching 400.0 req/s)  met"
    assert lines[2] == "  RF c=16    p99          1.25  (rayship 25.00 ms vs fastapi 20.00 ms)  NOT met"
    assert len(lines) == 1 + 2 * len(CELLS)


def test_table_has_a_row_per_server_with_rate_and_p99_per_cell() -> None:
    lines = report.table(results_with(), CELLS)
    assert lines[0].split() == ["server", "RF", "c=16", "XGB", "c=16", "non-2xx"]
    assert lines[1].split() == ["req/s", "p99", "ms", "req/s", "p99", "ms"]
    assert lines[2].split() == ["mlserver-batching", "400.0", "30.00", "900.0", "12.00", "0"]
    assert lines[3].split() == ["fastapi", "150.0", "20.00", "1800.0", "15.00", "2"]
    assert len(lines[0]) == len(lines[2]) == len(lines[3])  # columns line up under their heads
    assert report.non_2xx(results_with()) == 2


def test_cells_and_labels() -> None:
    assert report.cell("xgb", 32) == "xgb@32"
    assert report.cell_label("xgb@32") == "XGB c=32"


def test_model_settings_batch_only_in_batching_mode() -> None:
    assert model_settings("rf", batching=True) == {
        "name": "rf",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
        "max_batch_size": 32,
        "max_batch_time": 0.005,
    }
    assert model_settings("xgb", batching=False) == {
        "name": "xgb",
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": "./model.json"},
    }


def test_server_settings_listen_locally_quietly_on_their_ports() -> None:
    assert server_settings(BATCHING_PORTS) == {
        "host": "127.0.0.1",
        "http_port": 28080,
        "grpc_port": 28081,
        "metrics_port": 28082,
        "debug": False,
    }
    assert server_settings(DEFAULT_PORTS)["http_port"] == 28180


def test_no_port_collides_with_the_ray_clusters() -> None:
    ray_ranges = [(8000, 8600), (5000, 5000), (6379, 6379), (8080, 8080), (8265, 8265), (10001, 19999), (52400, 52500)]
    ports = [FASTAPI_PORT, *astuple(BATCHING_PORTS), *astuple(DEFAULT_PORTS)]
    assert len(set(ports)) == len(ports)
    assert not [port for port in ports for low, high in ray_ranges if low <= port <= high]


def test_request_body_is_one_oip_v2_row() -> None:
    body = json.loads(request_body([1.5] * 30))
    assert body == {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": [1.5] * 30}]}


def test_lua_script_posts_the_body_verbatim() -> None:
    body = request_body([17.99, 10.38])
    script = lua_script(body)
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert re.search(r"wrk\.body = \[==\[(.*)\]==\]", script).group(1) == body


def test_wrk_runs_pinned_to_the_load_core_with_one_thread() -> None:
    command = wrk_command("http://127.0.0.1:28090/v2/models/rf/infer", Path("rf.lua"), 32, 10, cpu=0)
    assert command == [
        *["taskset", "-c", "0", "wrk", "-t1", "-c32", "-d10s", "--latency"],
        *["-s", "rf.lua", "http://127.0.0.1:28090/v2/models/rf/infer"],
    ]
    assert pinned(["mlserver", "start", "."], 1) == ["taskset", "-c", "1", "mlserver", "start", "."]


def test_mlserver_venv_pins_match_this_interpreter() -> None:
    found = pins()
    assert {"mlserver==1.7.1", "mlserver-sklearn==1.7.1", "mlserver-xgboost==1.7.1", "uvloop==0.21.0"} <= set(found)
    assert f"scikit-learn=={version('scikit-learn')}" in found
    assert f"xgboost=={version('xgboost')}" in found
    lines = stamp_text(["b==2", "a==1"]).splitlines()
    assert lines[0].startswith("python==3.") and lines[1:] == ["a==1", "b==2"]


def test_reference_models_are_the_specified_ones(tmp_path: Path) -> None:
    assert REFERENCE_MODELS == ("rf", "xgb")
    rf, xgb = (_estimator(name).get_params() for name in REFERENCE_MODELS)
    assert (rf["n_estimators"], rf["max_depth"], rf["random_state"]) == (100, 12, 0)
    assert (xgb["n_estimators"], xgb["max_depth"], xgb["random_state"]) == (100, 6, 0)
    assert [mlserver_artifact(name)[1] for name in REFERENCE_MODELS] == ["model.joblib", "model.json"]
    # Keyed by the library versions, so an upgrade refits rather than unpickling across versions.
    assert version("scikit-learn") in cache_path("rf", tmp_path).name
    with pytest.raises(ValueError, match="unknown reference model 'svm'"):
        _estimator("svm")


def test_a_process_never_started_stops_quietly(tmp_path: Path) -> None:
    PinnedProcess("x", ["true"], 1, tmp_path / "x.log", tmp_path, {}).stop()


def test_unknown_server_is_exit_2_naming_it(capsys) -> None:
    assert bench_peers.main(["--servers", "fastapi,torchserve"]) == 2
    error = capsys.readouterr().err
    assert "unknown server(s) torchserve; known: mlserver-batching, mlserver-default, fastapi" in error


def test_rayship_without_its_factory_says_how_to_wire_it(capsys) -> None:
    assert bench_peers.main(["--servers", "rayship"]) == 2
    assert "main(rayship=...)" in capsys.readouterr().err


def test_a_given_rayship_factory_is_known_and_first() -> None:
    factories = bench_peers.available(lambda context: None)
    assert list(factories) == ["rayship", "mlserver-batching", "mlserver-default", "fastapi"]
    args = bench_peers.parse_args([], list(factories))
    assert bench_peers.selected(args, factories) == list(factories)


def test_duplicate_servers_are_refused() -> None:
    args = bench_peers.parse_args(["--servers", "fastapi,fastapi"], list(bench_peers.PEERS))
    with pytest.raises(ValueError, match="distinct"):
        bench_peers.selected(args, bench_peers.PEERS)


def test_missing_wrk_is_exit_2_naming_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench_peers, "missing_tools", lambda: ["wrk"])
    assert bench_peers.main(["--servers", "fastapi"]) == 2
    assert "wrk not installed (Debian: apt-get install wrk" in capsys.readouterr().err


def test_bad_connections_are_exit_2(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench_peers, "missing_tools", lambda: [])
    monkeypatch.setattr(bench_peers.os, "sched_getaffinity", lambda pid: {0, 1})
    assert bench_peers.main(["--servers", "fastapi", "--connections", "16,x"]) == 2
    assert "--connections must be comma-separated integers" in capsys.readouterr().err


def test_rayships_gateway_serves_each_reference_model_all_on_its_one_version():
    from bench.peers.rayship import policy
    from registry.api import PinnedVersion

    routed = policy(
        [PinnedVersion(name="bench-peer-rf", version="3"), PinnedVersion(name="bench-peer-xgb", version="1")]
    )
    assert routed.model_dump(mode="json", exclude_unset=True) == {
        "models": {
            "bench-peer-rf": {
                "versions": [{"version": "3", "app": "bench-peer-rf-v3", "weight": 100}],
                "champion": "3",
            },
            "bench-peer-xgb": {
                "versions": [{"version": "1", "app": "bench-peer-xgb-v1", "weight": 100}],
                "champion": "1",
            },
        }
    }
