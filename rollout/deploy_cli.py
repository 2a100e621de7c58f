"""`rayship deploy [FILE]`: `serve deploy` of a rayship Serve config, with the checks a platform owes it.

Before anything is sent: the file is a Serve config whose gateway policy the gateway will take (the same parse a
rollout does); every version app's model version resolves in the registry and may be served (an archived one is
refused here, not left to fail in its replica); and each model whose traffic the file would change is named with
the live split and the file's, so a deploy never changes traffic silently. Then one PUT through the Serve REST API
and a wait until every application is RUNNING.

Exit codes as `rayship rollout`'s: 0 deployed, 2 bad input (the file, a version that does not exist),
3 refused or unreachable (an archived version, the cluster down, an app that failed to start).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from deployments.app_config import VERSION_IMPORT_PATH
from rayship.cluster_token import read_cluster_token
from rayship.errors import RayshipError
from rollout import environment
from rollout.clock import SystemClock
from rollout.errors import GatewayNotReadyError, ServeFileError
from rollout.exit_codes import OK, parse_or_exit_code, reported
from rollout.live_config import LiveConfig, parse_live_config
from rollout.serve_file import DEFAULT_SERVE_CONFIG, SERVE_CONFIG_ENV


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rayship deploy", description=__doc__.splitlines()[0])
    parser.add_argument(
        "file", nargs="?", type=Path, help=f"Serve config (default ${SERVE_CONFIG_ENV}, else {DEFAULT_SERVE_CONFIG})"
    )
    parser.add_argument("--timeout-s", type=float, default=300.0, help="how long to wait for every app to run")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_or_exit_code(build_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        path = args.file or Path(os.environ.get(SERVE_CONFIG_ENV) or DEFAULT_SERVE_CONFIG)
        raw, config = read_config_file(path)
        for model_uri in version_model_uris(raw):
            admit_for_serving(model_uri)
        router = _router(args.timeout_s)
        for line in traffic_changes(live_weights(router.read_config()), config):
            print(line)
        print(f"Deploying {path}: {', '.join(config.app_names())}")
        router.write_config(raw, wait_for=config.app_names())
        # RUNNING is Serve's word; the gateway resolves version handles lazily, so wait until it answers too.
        wait_until_ready(environment.required(environment.SERVE_URL), sorted(config.gateway.models), args.timeout_s)
    except RayshipError as exc:
        return reported(exc)
    print(f"Every application is RUNNING: {', '.join(config.app_names())}")
    return OK


def read_config_file(path: Path) -> tuple[dict[str, Any], LiveConfig]:
    """The file's config as sent, and parsed as the gateway and Ray will parse it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServeFileError(str(path), f"cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ServeFileError(str(path), f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServeFileError(str(path), "it is not a mapping with an 'applications' list")
    return raw, parse_live_config(raw)


def version_model_uris(raw: dict[str, Any]) -> list[str]:
    """The registry URI of every version app in the file, in file order."""
    return [
        app["args"]["model_uri"]
        for app in raw.get("applications") or []
        if app.get("import_path") == VERSION_IMPORT_PATH and isinstance(app.get("args"), dict)
        and "model_uri" in app["args"]
    ]  # fmt: skip


def live_weights(live: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each model's live split; none before the gateway first runs."""
    if not live.get("applications"):
        return {}
    config = parse_live_config(live)
    return {model: config.weights(model) for model in config.gateway.models}


def traffic_changes(live: dict[str, dict[str, int]], filed: LiveConfig) -> list[str]:
    """One line per model whose split the file changes, with both splits: nothing about traffic goes unsaid."""
    lines = []
    for model in sorted(filed.gateway.models):
        after, before = filed.weights(model), live.get(model, {})
        if before != after:
            lines.append(f"{model}: traffic {_split(before) or 'none'} (live) -> {_split(after)} (this file)")
    return lines


def wait_until_ready(serve_url: str, models: list[str], timeout_s: float, poll_s: float = 0.5) -> None:
    """Return once the gateway says every model is ready (`GET /v2/models/{model}/ready` answers 200)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10.0) as client:
        for model in models:
            while not _ready(client, f"{serve_url}/v2/models/{model}/ready"):
                if time.monotonic() > deadline:
                    raise GatewayNotReadyError(model, timeout_s)
                time.sleep(poll_s)


def _ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def admit_for_serving(model_uri: str) -> None:
    """Resolve a version app's model and refuse what may not be served (the replica's own rule, run up front)."""
    from registry.api import resolve
    from registry.catalog import version_facts
    from registry.stages import admit_for_serving as admit

    admit(version_facts(resolve(model_uri)))


def _split(weights: dict[str, int]) -> str:
    return ", ".join(f"v{version} {weight} %" for version, weight in weights.items())


def _router(timeout_s: float):
    from rollout.adapters.routers.serve_rest import ServeRestRouter

    return ServeRestRouter(
        environment.required(environment.DASHBOARD), read_cluster_token(), SystemClock(), timeout_s=timeout_s
    )
