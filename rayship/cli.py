"""`rayship`: one command for every flow, as `ray`, `serve`, `mlflow` and `kubectl` are one command each.

Each subcommand is a package's own CLI (`python -m cluster`, `python -m training`, ...), which keep working;
`rayship up --workers 2` is `python -m cluster up --workers 2`. Packages are imported by name when their
subcommand runs, so `rayship --help` is instant and a command pays only for its own imports (MLflow, Ray, Tune).
This module therefore imports no rayship package: it stays at the root of the import graph (docs/design.md).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

USAGE = "usage: rayship [-h] COMMAND [ARGS ...]"


@dataclass(frozen=True)
class Command:
    """A subcommand: which package CLI runs it, with which leading arguments, and what it does."""

    module: str
    leading: tuple[str, ...]
    summary: str


COMMANDS: dict[str, Command] = {
    "up": Command("cluster.cli", ("up",), "start the local Ray cluster, Serve, MLflow and Prometheus"),
    "down": Command("cluster.cli", ("down",), "stop exactly what `up` started"),
    "status": Command("cluster.cli", ("status",), "what runs where, by PID"),
    "env": Command("cluster.cli", ("env",), 'the exports a shell needs: eval "$(rayship env)"'),
    "train": Command("training.cli", ("sweep",), "run a training spec as a Ray Tune sweep into MLflow"),
    "registry": Command("registry.cli", (), "models and versions: list, show, promote, alias, verify, archive"),
    "deploy": Command("rollout.deploy_cli", (), "deploy a Serve config file; archived versions refused"),
    "scale": Command("rollout.scale_cli", (), "set a version's replicas or its autoscaling bounds"),
    "rollout": Command("rollout.cli", (), "canary, bluegreen, shadow, abtest a candidate; abort; status"),
    "monitor": Command("monitoring.cli", (), "drift and live accuracy: apply, status, report, rules, watch"),
    "render": Command("kuberay.cli", (), "render the KubeRay manifests from configs/"),
}


def help_text() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [USAGE, "", __doc__.splitlines()[0], "", "commands:"]
    lines += [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", "`rayship COMMAND --help` explains each one."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(help_text())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"{USAGE}\nrayship: error: unknown command '{name}' (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    package_main = importlib.import_module(command.module).main
    return package_main([*command.leading, *rest])
