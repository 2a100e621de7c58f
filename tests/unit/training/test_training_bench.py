import importlib.util

from training.sweep import SweepOutcome


def load_bench():
    return importlib.import_module("bench.bench_training")


def outcome(wall_s, durations, startup_s=3.0):
    return SweepOutcome(
        experiment="b",
        sweep_run_id=None,
        trials=len(durations),
        failed_trials=0,
        best_trial_id="t",
        best_valid_score=1.0,
        trial_durations_s=durations,
        tune_wall_s=wall_s,
        startup_s=startup_s,
    )


def test_parallel_slots_are_bounded_by_concurrency_and_cpus():
    bench = load_bench()
    spec = bench.bench_spec(16)
    assert spec.num_samples == 16
    assert bench.parallel_slots(spec, cluster_cpus=2.0) == 2
    assert bench.parallel_slots(spec, cluster_cpus=1.0) == 1


def test_pairs_alternate_which_variant_runs_first():
    bench = load_bench()
    assert [bench.pair_order(i) for i in range(4)] == [(True, False), (False, True)] * 2


def test_overhead_is_the_median_of_paired_ratios_with_their_spread():
    bench = load_bench()
    spec = bench.bench_spec(16)
    pairs = [
        (outcome(22.0, [2.5] * 16), outcome(20.0, [2.4] * 16)),  # +10 %: a noisy pair
        (outcome(20.2, [2.5] * 16), outcome(20.0, [2.4] * 16)),  # +1 %
        (outcome(19.8, [2.5] * 16), outcome(20.0, [2.4] * 16)),  # -1 %
    ]
    figures = bench.summarise(spec, pairs, cluster_cpus=2.0)
    assert figures["pairs"] == 3
    assert figures["pair_overheads"] == [0.1, 0.01, -0.01]
    assert figures["logging_overhead"] == 0.01
    assert figures["overhead_spread"] == [-0.01, 0.1]
    assert figures["ideal_s"] == [20.0, 20.0, 20.0]
    assert figures["sum_trial_unlogged_s"] == [38.4, 38.4, 38.4]
    # Per second of trial time: (22 / 40) / (20 / 38.4) - 1, and so on.
    assert figures["pair_overheads_per_trial_time"] == [0.056, -0.0304, -0.0496]
    assert figures["overhead_per_trial_time"] == -0.0304
    assert figures["overhead_per_trial_time_spread"] == [-0.0496, 0.056]
    assert figures["wall_over_ideal_runs"] == [1.1, 1.01, 0.99]
    assert figures["wall_over_ideal"] == 1.01
    assert figures["startup_s"] == [3.0, 3.0, 3.0]
    assert figures["wall_after_startup_over_ideal"] == 0.86  # (20.2 - 3) / 20
    assert bench.meets_targets(figures)
    assert not bench.meets_targets({**figures, "logging_overhead": 0.06})
    assert not bench.meets_targets({**figures, "wall_over_ideal": 1.3})


def test_results_table_shows_every_pair_and_the_load(tmp_path):
    bench = load_bench()
    pairs = [(outcome(21.0, [2.5] * 16), outcome(20.0, [2.4] * 16))]
    figures = {**bench.summarise(bench.bench_spec(16), pairs, cluster_cpus=2.0), "load_avg_1m": [3.0, 7.5]}
    table = bench.results_table(figures)
    cells = [str(cell) for column in table.columns for cell in column._cells]
    assert "pair 1: MLflow on / off / ideal" in cells
    assert "21.0 / 20.0 / 20.0 s (+5.0 %)" in cells
    assert "3.0 .. 7.5" in cells
    assert "3.0 .. 3.0 s" in cells
    assert "0.90x" in cells  # (21 - 3) / 20
    assert "+5.0 % (pairs +5.0 % .. +5.0 %)" in cells


def test_results_are_written_atomically_as_json(tmp_path):
    bench = load_bench()
    path = bench.write_json({"trials": 16}, tmp_path)
    assert path.name.startswith("training-") and path.suffix == ".json"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
