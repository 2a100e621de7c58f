"""`python -m cluster {up,down,status,env}`: the local Ray head, worker raylets and MLflow server."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from pydantic import ValidationError

from cluster import lifecycle
from cluster.commands import client_exports
from cluster.errors import ClusterError
from cluster.settings import ClusterSettings, settings_from_env
from cluster.token import token_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cluster", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", help="bind address of the HTTP endpoints (env RAYSHIP_HOST, default 127.0.0.1)")
    common.add_argument("--state-dir", type=Path, help="PIDs, logs, MLflow data (env RAYSHIP_STATE_DIR, .rayship)")
    for name, default in (
        ("gcs", 6379),
        ("dashboard", 8265),
        ("metrics", 8080),
        ("serve", 8000),
        ("mlflow", 5000),
        ("client", 10001),
        ("haproxy-stats", 8404),
        ("haproxy-metrics", 9101),
        ("prometheus", 9090),
    ):
        env_name = f"RAYSHIP_{name.upper().replace('-', '_')}_PORT"
        common.add_argument(f"--{name}-port", type=int, help=f"env {env_name}, default {default}")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", parents=[common], help="start Ray (head + workers), Serve's proxy, MLflow and Prometheus")
    up.add_argument("--workers", type=int, help="extra worker raylets on this host (env RAYSHIP_WORKERS, 0)")
    up.add_argument("--head-cpus", type=int, help="logical CPUs of the head (default: the machine's cores)")
    up.add_argument("--worker-cpus", type=int, help="logical CPUs of each extra worker (default 1)")
    up.add_argument(
        "--serve-high-throughput",
        action=argparse.BooleanOptionalAction,
        help="Serve's high-throughput mode with the HAProxy ingress, on by default; --no-serve-high-throughput "
        "(env RAYSHIP_SERVE_HIGH_THROUGHPUT=0) runs Serve's Python proxy instead",
    )
    up.add_argument(
        "--prometheus",
        action=argparse.BooleanOptionalAction,
        help="start a local Prometheus with the models' alert rules, on by default; --no-prometheus "
        "(env RAYSHIP_PROMETHEUS=0) leaves it out",
    )
    sub.add_parser("down", parents=[common], help="stop exactly what `up` started")
    sub.add_parser("status", parents=[common], help="say what runs where")
    sub.add_parser("env", parents=[common], help="print the exports a shell needs to use the cluster")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = settings_from_env(**overrides)
        return COMMANDS[args.command](settings)
    except ValidationError as exc:
        print(f"error: invalid cluster settings: {exc}", file=sys.stderr)
    except (ClusterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def _up(settings: ClusterSettings) -> int:
    lifecycle.up(settings)
    print(f'\nUse it from a shell:  eval "$(python -m cluster env)"   (state in {settings.state_dir})')
    return 0


def _down(settings: ClusterSettings) -> int:
    lifecycle.down(settings)
    return 0


def _status(settings: ClusterSettings) -> int:
    rows = lifecycle.status(settings)
    if not rows:
        print(f"rayship cluster is down (no state in {settings.state_dir})")
        return 0
    for name, pid, running, url in rows:
        print(f"{name:<14} pid {pid:<8} {'running' if running else 'NOT RUNNING':<12} {url}")
    print(f"{'serve':<14} {'':<12} {'':<12} {settings.serve_url}")
    return 0 if all(running for _, _, running, _ in rows) else 1


def _env(settings: ClusterSettings) -> int:
    for key, value in client_exports(settings, token_path()).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


COMMANDS = {"up": _up, "down": _down, "status": _status, "env": _env}
