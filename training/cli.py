"""`python -m training sweep --config FILE [--register] [--alias NAME]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rayship.errors import RayshipError
from training.errors import SweepInterruptedError
from training.spec import load_spec
from training.sweep import SweepOutcome, run_sweep

# MLflow's HTTP client retries for minutes by default; a CLI should fail within seconds when MLflow is down.
BOUNDED_MLFLOW_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
# MLflow prints a URL for every run it ends, fetching the whole run from the server first: for a sweep that is one
# more request per trial, and lines in stdout, which --json owns. The sweep prints its own run's address on stderr.
QUIET_MLFLOW = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Ray Tune sweeps into MLflow.")
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("sweep", help="run a sweep spec and log it to MLflow")
    sweep.add_argument("--config", type=Path, required=True, help="sweep spec YAML (configs/training/*.yaml)")
    sweep.add_argument("--register", action="store_true", help="register the winner as a new model version")
    sweep.add_argument("--alias", help="alias to give the new version if it passes the gate (needs --register)")
    sweep.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    sweep.add_argument("--no-mlflow", action="store_true", help="run the trials without MLflow logging")
    sweep.add_argument("--json", action="store_true", help="print the outcome as one JSON line (last on stdout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.alias and not args.register:
        parser.error("--alias needs --register")
    if args.no_mlflow and args.register:
        parser.error("--register needs MLflow logging; drop --no-mlflow")
    for key, value in {**BOUNDED_MLFLOW_RETRIES, **QUIET_MLFLOW}.items():
        os.environ.setdefault(key, value)
    console = Console()
    try:
        spec = load_spec(args.config)
        outcome = run_sweep(
            spec,
            register=args.register,
            alias=args.alias,
            tracking_uri=args.tracking_uri,
            log_to_mlflow=not args.no_mlflow,
            console=Console(stderr=True),
        )
    except SweepInterruptedError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[yellow]interrupted:[/yellow] {exc}")
        return 130
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    except RayshipError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {exc}")
        return 1
    if args.json:
        print(outcome.model_dump_json())
    else:
        console.print(summary_table(outcome, spec.metric))
    return 0


def summary_table(outcome: SweepOutcome, metric: str) -> Table:
    table = Table(title=f"sweep {outcome.experiment}", show_header=False)
    table.add_row("sweep run", outcome.sweep_run_id or "(not logged)")
    table.add_row("trials", f"{outcome.trials} ({outcome.failed_trials} failed)")
    table.add_row("best trial", f"{outcome.best_trial_id}  valid {metric}={outcome.best_valid_score:.4f}")
    if outcome.winner is not None:
        scores = "  ".join(f"{k}={v:.4f}" for k, v in sorted(outcome.winner.test_scores.items()))
        table.add_row("holdout", scores)
        table.add_row("logged model", outcome.winner.model_id)
    if (registration := outcome.registration) is not None:
        table.add_row("registered", registration.pinned.uri)
        if registration.gate is not None:
            verdict = "passed" if registration.gate.passed else "[red]failed[/red]"
            table.add_row("gate", f"{verdict}: {'; '.join(registration.gate.reasons)}")
        if registration.alias is not None:
            move = registration.alias
            before = f" (was v{move.previous_version})" if move.previous_version else ""
            table.add_row("alias", f"{move.alias} -> v{move.version}{before}")
    table.add_row("tune wall time", f"{outcome.tune_wall_s:.1f} s")
    return table
