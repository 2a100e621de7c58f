"""`python -m training sweep --config FILE [--data SOURCE [--data-target COL]] [--register [--alias NAME]
[--tag KEY=VALUE ...]]`."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rayship.errors import RayshipError
from training.errors import SweepInterruptedError
from training.promote import is_own_tag
from training.spec import load_spec, with_dataset
from training.sweep import SweepOutcome, run_sweep

# MLflow's HTTP client retries for minutes by default; a CLI should fail within seconds when MLflow is down.
BOUNDED_MLFLOW_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
# MLflow prints a URL for every run it ends, fetching the whole run from the server first: for a sweep that is one
# more request per trial, and lines in stdout, which --json owns. The sweep prints its own run's address on stderr.
QUIET_MLFLOW = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
# A subset of what MLflow accepts as a tag key (it also takes spaces and slashes), at most its 250 characters: a
# key MLflow would refuse must fail here, not at registration after the whole sweep.
TAG_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,249}$")


def parse_tag(text: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (key, value); the value may hold '=' and may be empty."""
    key, equals, value = text.partition("=")
    if not equals or not TAG_KEY.match(key):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not KEY=VALUE with a KEY of letters, digits and _ . : - (at most 250 characters)"
        )
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Ray Tune sweeps into MLflow.")
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("sweep", help="run a sweep spec and log it to MLflow")
    sweep.add_argument("--config", type=Path, required=True, help="sweep spec YAML (configs/training/*.yaml)")
    sweep.add_argument(
        "--data",
        metavar="SOURCE",
        help="train on SOURCE instead of the spec's dataset: a .csv/.parquet path, or URL#TABLE for a table of a "
        "SQLAlchemy database URL (e.g. sqlite:////abs/fresh.db#iris_fresh)",
    )
    sweep.add_argument(
        "--data-target", metavar="COL", help="label column of --data (default: the spec's dataset target)"
    )
    sweep.add_argument("--register", action="store_true", help="register the winner as a new model version")
    sweep.add_argument("--alias", help="alias to give the new version if it passes the gate (needs --register)")
    sweep.add_argument(
        "--tag",
        action="append",
        type=parse_tag,
        default=[],
        metavar="KEY=VALUE",
        help="extra tag on the new version (repeatable; needs --register); rayship's own tags cannot be set",
    )
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
    if args.data_target is not None and args.data is None:
        parser.error("--data-target needs --data")
    version_tags = _version_tags(parser, args.tag, args.register)
    for key, value in {**BOUNDED_MLFLOW_RETRIES, **QUIET_MLFLOW}.items():
        os.environ.setdefault(key, value)
    console = Console()
    try:
        spec = load_spec(args.config)
        if args.data is not None:
            spec = with_dataset(spec, args.data, args.data_target)
        outcome = run_sweep(
            spec,
            register=args.register,
            alias=args.alias,
            tracking_uri=args.tracking_uri,
            log_to_mlflow=not args.no_mlflow,
            console=Console(stderr=True),
            version_tags=version_tags,
        )
    except SweepInterruptedError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[yellow]interrupted:[/yellow] {exc}")
        return 130
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    except RayshipError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {escape(str(exc))}")
        return 1
    if args.json:
        print(outcome.model_dump_json())
    else:
        console.print(summary_table(outcome, spec.metric))
    return 0


def _version_tags(parser: argparse.ArgumentParser, pairs: list[tuple[str, str]], register: bool) -> dict[str, str]:
    """The --tag pairs as a mapping; exits (argparse's code 2) on a tag without --register, a key given twice or
    a key rayship sets itself (it would be dropped: rayship's tags win)."""
    if pairs and not register:
        parser.error("--tag needs --register")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            parser.error(f"--tag {key} is given twice")
        if is_own_tag(key):
            parser.error(f"--tag {key}: rayship sets this tag itself")
        tags[key] = value
    return tags


def summary_table(outcome: SweepOutcome, metric: str) -> Table:
    table = Table(title=f"sweep {outcome.experiment}", show_header=False)
    table.add_row("sweep run", outcome.sweep_run_id or "(not logged)")
    table.add_row(
        "trials", f"{outcome.trials} ({outcome.failed_trials} failed, {outcome.early_stopped_trials} stopped early)"
    )
    if outcome.trials_plot_uri is not None:
        table.add_row("trials plot", outcome.trials_plot_uri)
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
