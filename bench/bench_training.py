"""Training benchmark: a 16-trial sweep's wall time against the ideal, and the cost of MLflow logging.

    python -m bench.bench_training [--trials 16] [--pairs 4] [--warmup-trials 2] [--tracking-uri URI]
                                   [--output-dir bench/results] [--strict]

Ideal wall time = sum of trial durations / parallel trial slots (min(max_concurrent_trials, CPUs / cpus_per_trial)).
Logging overhead = (Tune wall time with MLflow logging) / (the same sweep with logging off) - 1, measured in pairs:
each pair runs the two variants back to back, the order alternating from pair to pair (on/off, off/on, ...), so
slow phases of a shared machine and any drift hit both variants alike; an uncounted warm-up sweep of each variant
goes first. The figure is the median of the pairs' overheads, with their spread (min..max), and the same per second
of trial time (see `summarise`); wall / ideal is the median over the logged runs. The 1-minute load average before
every sweep and at the end is recorded with them.
Targets: wall <= 1.25x ideal, overhead <= 5 %. MLflow is `--tracking-uri`, else $MLFLOW_TRACKING_URI, else a
sqlite store in a temporary directory. Ray is $RAY_ADDRESS, else a private local instance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import ray
from rich.console import Console
from rich.table import Table

from training.cli import QUIET_MLFLOW
from training.ray_session import ensure_ray
from training.spec import SweepSpec
from training.sweep import SweepOutcome, run_sweep

WALL_TARGET = 1.25
OVERHEAD_TARGET = 0.05
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"


def bench_spec(trials: int) -> SweepSpec:
    """Trials of several seconds each (1,100-1,300 trees on digits: ~3.5 s). A sweep has a fixed start - Tune's
    set-up, its trial actors' processes, and their imports of Tune and scikit-learn: 3.1-4.0 s on 2 cores, measured
    2026-11-30, while Tune's own time between trials was 0.01-0.02 s - which would dominate trials of a second or
    two (1.75 s trials gave 1.27x, almost all of it that start). `startup_s` reports the start on its own."""
    return SweepSpec.model_validate(
        {
            "experiment": "bench-training",
            "model_name": "bench-training",
            "dataset": {"name": "digits"},
            "trainer": {"framework": "sklearn", "estimator": "random_forest", "params": {"max_features": "sqrt"}},
            "search_space": {
                "n_estimators": {"type": "randint", "low": 1100, "high": 1300},
                "min_samples_leaf": {"type": "randint", "low": 1, "high": 4},
            },
            "num_samples": trials,
            "metric": "accuracy",
            "max_concurrent_trials": 2,
            "cpus_per_trial": 1.0,
            "time_budget_s": 3600,
            "seed": 1,
        }
    )


def parallel_slots(spec: SweepSpec, cluster_cpus: float) -> int:
    return max(1, min(spec.max_concurrent_trials, math.floor(cluster_cpus / spec.cpus_per_trial)))


def pair_order(index: int) -> tuple[bool, bool]:
    """Whether the first and second sweep of pair `index` log to MLflow: on/off, then off/on, alternating."""
    return (True, False) if index % 2 == 0 else (False, True)


def wall_over_ideal(outcome: SweepOutcome, slots: int) -> float:
    ideal_s = sum(outcome.trial_durations_s) / slots
    return outcome.tune_wall_s / ideal_s if ideal_s else math.inf


def summarise(spec: SweepSpec, pairs: list[tuple[SweepOutcome, SweepOutcome]], cluster_cpus: float) -> dict:
    """The figures of (logged, unlogged) pairs: medians the targets apply to, and every pair's own (pure).

    `overhead_per_trial_time` compares wall time per second of trial time instead of raw wall time: a machine
    whose load changes between the two sweeps of a pair slows their trials too, so this ratio cancels much of it
    (it hides what logging's CPU use costs the trials themselves, which is why it is not the target's figure).
    """
    slots = parallel_slots(spec, cluster_cpus)
    overheads = [logged.tune_wall_s / unlogged.tune_wall_s - 1 for logged, unlogged in pairs]
    per_trial_time = [
        wall_over_ideal(logged, slots) / wall_over_ideal(unlogged, slots) - 1 for logged, unlogged in pairs
    ]
    ratios = [wall_over_ideal(logged, slots) for logged, _ in pairs]
    # What is left once the fixed start is taken out: Tune's time between trials and the last trials' uneven ends.
    after_start = [
        (logged.tune_wall_s - logged.startup_s) / (sum(logged.trial_durations_s) / slots) for logged, _ in pairs
    ]
    sums = [sum(logged.trial_durations_s) for logged, _ in pairs]
    return {
        "trials": spec.num_samples,
        "pairs": len(pairs),
        "parallel_slots": slots,
        "cluster_cpus": cluster_cpus,
        "wall_logged_s": [round(logged.tune_wall_s, 2) for logged, _ in pairs],
        "wall_unlogged_s": [round(unlogged.tune_wall_s, 2) for _, unlogged in pairs],
        "sum_trial_s": [round(s, 2) for s in sums],
        "sum_trial_unlogged_s": [round(sum(unlogged.trial_durations_s), 2) for _, unlogged in pairs],
        "ideal_s": [round(s / slots, 2) for s in sums],
        "pair_overheads": [round(o, 4) for o in overheads],
        "logging_overhead": round(statistics.median(overheads), 4),
        "overhead_spread": _spread(overheads),
        "pair_overheads_per_trial_time": [round(o, 4) for o in per_trial_time],
        "overhead_per_trial_time": round(statistics.median(per_trial_time), 4),
        "overhead_per_trial_time_spread": _spread(per_trial_time),
        "wall_over_ideal_runs": [round(r, 3) for r in ratios],
        "wall_over_ideal": round(statistics.median(ratios), 3),
        "startup_s": [round(logged.startup_s, 2) for logged, _ in pairs],
        "wall_after_startup_over_ideal": round(statistics.median(after_start), 3),
        "wall_target": WALL_TARGET,
        "overhead_target": OVERHEAD_TARGET,
    }


def _spread(values: list[float]) -> list[float]:
    return [round(min(values), 4), round(max(values), 4)]


def meets_targets(figures: dict) -> bool:
    return figures["wall_over_ideal"] <= WALL_TARGET and figures["logging_overhead"] <= OVERHEAD_TARGET


def write_json(figures: dict, output_dir: Path) -> Path:
    """Atomically write the figures as `training-<UTC time>.json`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"training-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    with tempfile.NamedTemporaryFile("w", dir=output_dir, delete=False, suffix=".tmp") as handle:
        json.dump(figures, handle, indent=2)
    Path(handle.name).replace(path)
    return path


def _percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def results_table(figures: dict) -> Table:
    table = Table("figure", "value", "target", title="training benchmark")
    table.add_row("trials / parallel slots", f"{figures['trials']} / {figures['parallel_slots']}", "")
    loads = figures["load_avg_1m"]
    table.add_row("load average (1 min) over the run", f"{min(loads):.1f} .. {max(loads):.1f}", "")
    columns = ("wall_logged_s", "wall_unlogged_s", "ideal_s", "pair_overheads")
    for i, (on, off, ideal, overhead) in enumerate(zip(*(figures[c] for c in columns), strict=True)):
        label, walls = f"pair {i + 1}: MLflow on / off / ideal", f"{on:.1f} / {off:.1f} / {ideal:.1f} s"
        table.add_row(label, f"{walls} ({_percent(overhead)})", "")
    table.add_row(
        "wall / ideal (median of logged runs)", f"{figures['wall_over_ideal']:.2f}x", f"<= {WALL_TARGET:.2f}x"
    )
    starts = figures["startup_s"]
    table.add_row("  of it, the sweep's start (Tune, trial actors)", f"{min(starts):.1f} .. {max(starts):.1f} s", "")
    table.add_row("  wall after the start / ideal", f"{figures['wall_after_startup_over_ideal']:.2f}x", "")
    low, high = figures["overhead_spread"]
    table.add_row(
        "MLflow logging overhead (median of pairs)",
        f"{_percent(figures['logging_overhead'])} (pairs {_percent(low)} .. {_percent(high)})",
        f"<= {OVERHEAD_TARGET:.0%}",
    )
    low, high = figures["overhead_per_trial_time_spread"]
    table.add_row(
        "  same, wall per second of trial time",
        f"{_percent(figures['overhead_per_trial_time'])} (pairs {_percent(low)} .. {_percent(high)})",
        "",
    )
    return table


def warm_up(spec: SweepSpec, tracking_uri: str, state_dir: Path, console: Console) -> None:
    """One small sweep of each variant, not counted: the first sweep of a process pays one-off costs (Tune's own
    set-up took 30 s on a loaded machine; the first MLflow connection) that would fall on pair 1 alone."""
    for logged in (True, False):
        console.print(f"warm-up: {spec.num_samples} trials, MLflow logging {'on' if logged else 'off'}")
        run_sweep(spec, tracking_uri=tracking_uri, log_to_mlflow=logged, state_dir=state_dir, console=console)


def run_pairs(
    spec: SweepSpec, pairs: int, tracking_uri: str, state_dir: Path, console: Console, loads: list[float]
) -> list[tuple[SweepOutcome, SweepOutcome]]:
    """`pairs` (logged, unlogged) outcomes, each pair run back to back in alternating order; the 1-minute load
    average before every sweep is appended to `loads`."""
    results = []
    for index in range(pairs):
        outcomes = {}
        for logged in pair_order(index):
            loads.append(os.getloadavg()[0])
            console.print(f"pair {index + 1}/{pairs}: MLflow logging {'on' if logged else 'off'}, load {loads[-1]:.1f}")
            outcomes[logged] = run_sweep(
                spec, tracking_uri=tracking_uri, log_to_mlflow=logged, state_dir=state_dir, console=console
            )
        results.append((outcomes[True], outcomes[False]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_training", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16, help="trials per sweep (default 16)")
    # An even number balances the order: as many pairs start with logging on as with it off.
    parser.add_argument("--pairs", type=int, default=4, help="logged/unlogged pairs, order alternating (default 4)")
    parser.add_argument("--warmup-trials", type=int, default=2, help="trials of the uncounted warm-up (0: none)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or temp sqlite)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="where the JSON result goes")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    for key, value in QUIET_MLFLOW.items():
        os.environ.setdefault(key, value)  # as the training CLI runs
    console = Console()
    spec = bench_spec(args.trials)
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rayship-bench-training-") as tmp:
        tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{tmp}/mlflow.db"
        started = ensure_ray()
        try:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            if args.warmup_trials > 0:
                warm_up(bench_spec(args.warmup_trials), tracking_uri, Path(tmp), console)
            pairs = run_pairs(spec, max(1, args.pairs), tracking_uri, Path(tmp), console, loads)
        finally:
            if started:
                ray.shutdown()
    figures = summarise(spec, pairs, cpus)
    figures["load_avg_1m"] = [round(load, 2) for load in [*loads, os.getloadavg()[0]]]
    console.print(results_table(figures))
    console.print(f"results written to {write_json(figures, args.output_dir)}")
    return 1 if args.strict and not meets_targets(figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
