"""The rollout benchmark's arithmetic: the candidate's weight in the gateway's policy view, the fault window in
the watcher's samples, and the summary against the goal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH_DIR))  # the benchmarks import their shared `serve_admin` module by name
    try:
        spec = importlib.util.spec_from_file_location("bench_rollout", BENCH_DIR / "bench_rollout.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH_DIR))
    return module


def test_candidate_weight_from_the_policy_view(bench) -> None:
    routes = [{"version": "1", "app": "m-v1", "weight": 80}, {"version": "2", "app": "m-v2", "weight": 20}]
    view = {"policy_digest": "d", "policy": {"models": {"m": {"versions": routes, "champion": "1"}}}}
    assert [bench.candidate_weight(view, "m", version) for version in ("2", "1", "3")] == [20, 80, 0]
    assert bench.candidate_weight(view, "other", "2") == 0


def test_the_fault_window_runs_from_the_first_weight_above_0_to_the_next_0(bench) -> None:
    samples = [(10.0, 0), (10.1, 0), (10.3, 20), (10.4, 20), (16.9, 20), (17.4, 0), (17.5, 0)]
    window = bench.fault_window(samples)
    assert (window.onset_s, window.weight_0_s) == (10.3, 17.4)
    assert window.seconds == pytest.approx(7.1)
    assert window.resolution_s == pytest.approx(0.5)  # 16.9 -> 17.4 is the wider of the two gaps


@pytest.mark.parametrize(
    "samples",
    [[], [(1.0, 0), (2.0, 0)], [(1.0, 0), (2.0, 20), (3.0, 40)]],
    ids=["no samples", "never above 0", "never back to 0"],
)
def test_no_fault_window(bench, samples: list[tuple[float, int]]) -> None:
    assert bench.fault_window(samples) is None


def test_summary_against_the_goal(bench) -> None:
    assert bench.summarise([6.88, 9.61, 5.3]) == {
        "each_s": [6.88, 9.61, 5.3],
        "median_s": 6.88,
        "max_s": 9.61,
        "goal_s": 10.0,
        "goal_met": True,
    }
    assert bench.summarise([4.0, 10.2])["goal_met"] is False
