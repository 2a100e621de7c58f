import importlib.util
from pathlib import Path

from training.sweep import SweepOutcome

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_training.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outcome(wall_s, durations):
    return SweepOutcome(
        experiment="b",
        sweep_run_id=None,
        trials=len(durations),
        failed_trials=0,
        best_trial_id="t",
        best_valid_score=1.0,
        trial_durations_s=durations,
        tune_wall_s=wall_s,
    )


def test_ideal_is_trial_time_over_parallel_slots_and_overhead_is_relative():
    bench = load_bench()
    spec = bench.bench_spec(16)
    assert spec.num_samples == 16
    assert bench.parallel_slots(spec, cluster_cpus=2.0) == 2
    assert bench.parallel_slots(spec, cluster_cpus=1.0) == 1
    figures = bench.summarise(spec, outcome(22.0, [2.5] * 16), outcome(21.0, [2.4] * 16), cluster_cpus=2.0)
    assert figures["ideal_s"] == 20.0
    assert figures["wall_over_ideal"] == 1.1
    assert figures["logging_overhead"] == round(22.0 / 21.0 - 1, 4)
    assert bench.meets_targets(figures)
    assert not bench.meets_targets({**figures, "logging_overhead": 0.06})


def test_results_are_written_atomically_as_json(tmp_path):
    bench = load_bench()
    path = bench.write_json({"trials": 16}, tmp_path)
    assert path.name.startswith("training-") and path.suffix == ".json"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_fastest_repeat_counts():
    bench = load_bench()
    assert bench.fastest([outcome(30.0, [1.0]), outcome(25.0, [1.0]), outcome(27.0, [1.0])]).tune_wall_s == 25.0
