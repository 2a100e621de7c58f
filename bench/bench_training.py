"""Training benchmark: a 16-trial sweep's wall time against the ideal, and the cost of MLflow logging.

    python bench/bench_training.py [--trials 16] [--tracking-uri URI] [--output-dir bench/results] [--strict]

Ideal wall time = sum of trial durations / parallel trial slots (min(max_concurrent_trials, CPUs / cpus_per_trial)).
Logging overhead = (Tune wall time with MLflow logging) / (the same sweep with logging off) - 1.
The two variants alternate `--repeats` times and the fastest run of each counts: on a shared machine the
minimum is the figure least disturbed by other load.
Targets: wall <= 1.25x ideal, overhead <= 5 %. MLflow is `--tracking-uri`, else $MLFLOW_TRACKING_URI, else a
sqlite store in a temporary directory. Ray is $RAY_ADDRESS, else a private local instance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import ray
from rich.console import Console
from rich.table import Table

from training.ray_session import ensure_ray
from training.spec import SweepSpec
from training.sweep import SweepOutcome, run_sweep

WALL_TARGET = 1.25
OVERHEAD_TARGET = 0.05
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"


def bench_spec(trials: int) -> SweepSpec:
    """Trials of several seconds each: Ray Tune spends ~1-2 s per trial on bookkeeping (start, result, stop) and
    ~5-10 s starting its trial actors, which would dominate trials of a second or two."""
    return SweepSpec.model_validate(
        {
            "experiment": "bench-training",
            "model_name": "bench-training",
            "dataset": {"name": "digits"},
            "trainer": {"framework": "sklearn", "estimator": "random_forest", "params": {"max_features": "sqrt"}},
            "search_space": {
                "n_estimators": {"type": "randint", "low": 500, "high": 700},
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


def summarise(spec: SweepSpec, logged: SweepOutcome, unlogged: SweepOutcome, cluster_cpus: float) -> dict:
    """The figures of both runs and the two ratios the targets apply to (pure)."""
    slots = parallel_slots(spec, cluster_cpus)
    ideal_s = sum(logged.trial_durations_s) / slots
    return {
        "trials": spec.num_samples,
        "parallel_slots": slots,
        "cluster_cpus": cluster_cpus,
        "wall_logged_s": round(logged.tune_wall_s, 2),
        "wall_unlogged_s": round(unlogged.tune_wall_s, 2),
        "sum_trial_s": round(sum(logged.trial_durations_s), 2),
        "mean_trial_s": round(sum(logged.trial_durations_s) / max(1, len(logged.trial_durations_s)), 3),
        "ideal_s": round(ideal_s, 2),
        "wall_over_ideal": round(logged.tune_wall_s / ideal_s, 3) if ideal_s else None,
        "logging_overhead": round(logged.tune_wall_s / unlogged.tune_wall_s - 1, 4),
        "wall_target": WALL_TARGET,
        "overhead_target": OVERHEAD_TARGET,
    }


def fastest(outcomes: list[SweepOutcome]) -> SweepOutcome:
    return min(outcomes, key=lambda outcome: outcome.tune_wall_s)


def meets_targets(figures: dict) -> bool:
    ratio, overhead = figures["wall_over_ideal"], figures["logging_overhead"]
    return ratio is not None and ratio <= WALL_TARGET and overhead <= OVERHEAD_TARGET


def write_json(figures: dict, output_dir: Path) -> Path:
    """Atomically write the figures as `training-<UTC time>.json`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"training-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    with tempfile.NamedTemporaryFile("w", dir=output_dir, delete=False, suffix=".tmp") as handle:
        json.dump(figures, handle, indent=2)
    Path(handle.name).replace(path)
    return path


def results_table(figures: dict) -> Table:
    table = Table("figure", "value", "target", title="training benchmark")
    table.add_row("trials / parallel slots", f"{figures['trials']} / {figures['parallel_slots']}", "")
    table.add_row("sum of trial durations", f"{figures['sum_trial_s']:.1f} s", "")
    table.add_row("ideal wall time", f"{figures['ideal_s']:.1f} s", "")
    table.add_row("wall time, MLflow on", f"{figures['wall_logged_s']:.1f} s", "")
    table.add_row("wall time, MLflow off", f"{figures['wall_unlogged_s']:.1f} s", "")
    table.add_row("wall / ideal", f"{figures['wall_over_ideal']:.2f}x", f"<= {WALL_TARGET:.2f}x")
    table.add_row("MLflow logging overhead", f"{figures['logging_overhead'] * 100:+.1f} %", f"<= {OVERHEAD_TARGET:.0%}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_training.py", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16, help="trials per sweep (default 16)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or temp sqlite)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="where the JSON result goes")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant; the fastest counts")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    console = Console()
    spec = bench_spec(args.trials)
    with tempfile.TemporaryDirectory(prefix="rayship-bench-training-") as tmp:
        tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{tmp}/mlflow.db"
        started = ensure_ray()
        try:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            unlogged_runs, logged_runs = [], []
            for _ in range(max(1, args.repeats)):  # alternate, so slow phases of the machine hit both variants
                unlogged_runs.append(run_sweep(spec, log_to_mlflow=False, state_dir=Path(tmp), console=console))
                logged_runs.append(run_sweep(spec, tracking_uri=tracking_uri, state_dir=Path(tmp), console=console))
        finally:
            if started:
                ray.shutdown()
    figures = summarise(spec, fastest(logged_runs), fastest(unlogged_runs), cpus)
    figures["repeats"] = len(logged_runs)
    console.print(results_table(figures))
    console.print(f"results written to {write_json(figures, args.output_dir)}")
    return 1 if args.strict and not meets_targets(figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
