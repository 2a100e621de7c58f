"""`up`, `down` and `status`: start the services in order, wait for each, and undo everything on failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from cluster import commands
from cluster.errors import ClusterPartlyDownError, PortInUseError, ServeStartError
from cluster.health import http_answers, log_tail, wait_until
from cluster.ports import port_holder, port_is_free
from cluster.processes import is_running, spawn, stop_session
from cluster.prometheus_files import write_prometheus_files
from cluster.settings import PORT_FIELDS, ClusterSettings
from cluster.state import ClusterState, ServiceRecord, clear_state, load_state, save_state
from cluster.token import ensure_token, read_token, token_path

Say = Callable[[str], None]
BIN_DIR = Path(sys.executable).parent
PROMETHEUS_MISSING = (
    "no `prometheus` on PATH (Debian: apt-get install prometheus; `make setup` installs it); "
    "alerts and `python -m monitoring watch` need it"
)


def up(settings: ClusterSettings, say: Say = print) -> ClusterState:
    """Bring up MLflow, the Ray head, N worker raylets, Serve's proxy and Prometheus; idempotent."""
    existing = load_state(settings.state_dir)
    if existing is not None:
        dead = [s.name for s in existing.services if not is_running(s.pid)]
        if not dead:
            say(f"rayship cluster is already up (state in {settings.state_dir})")
            return existing
        if len(dead) < len(existing.services):
            raise ClusterPartlyDownError(dead)
        clear_state(settings.state_dir)  # every process is gone: the state is stale
    _check_ports(settings)
    tpath = token_path()
    if ensure_token(tpath):
        say(f"generated the Ray cluster token in {tpath} (mode 0600)")
    state = ClusterState()
    try:
        _start_all(settings, tpath, state, say)
    except BaseException:
        say("start failed; stopping what was started")
        _stop_all(state, say=lambda _msg: None)
        clear_state(settings.state_dir)
        raise
    return state


def down(settings: ClusterSettings, say: Say = print) -> int:
    """Stop exactly the processes `up` recorded, newest first; returns how many services were stopped."""
    state = load_state(settings.state_dir)
    if state is None:
        say(f"nothing to stop: no rayship cluster state in {settings.state_dir}")
        return 0
    stopped = _stop_all(state, say)
    clear_state(settings.state_dir)
    shutil.rmtree(commands.ray_temp_dir(settings), ignore_errors=True)
    return stopped


def status(settings: ClusterSettings) -> list[tuple[str, int, bool, str]]:
    """(service, pid, running, url) for every recorded service; empty when the cluster is down."""
    state = load_state(settings.state_dir)
    if state is None:
        return []
    return [(s.name, s.pid, is_running(s.pid), s.url or "") for s in state.services]


def auth_headers(tpath: Path | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {read_token(tpath or token_path())}"}


def _start_all(settings: ClusterSettings, tpath: Path, state: ClusterState, say: Say) -> None:
    memory = psutil.virtual_memory().total
    ray_env = commands.ray_env(settings, dict(os.environ), tpath, BIN_DIR)
    logs = settings.state_dir / "logs"

    mlflow = _start(
        settings,
        state,
        "mlflow",
        commands.mlflow_command(settings),
        commands.mlflow_env(dict(os.environ)),
        logs,
        settings.mlflow_url,
    )
    _wait_http(settings, mlflow, f"{settings.mlflow_url}/health")
    say(f"MLflow tracking server   {settings.mlflow_url}")

    head_cmd = commands.ray_head_command(settings, str(BIN_DIR / "ray"), memory, os.cpu_count() or 1)
    head = _start(settings, state, "ray-head", head_cmd, ray_env, logs, settings.dashboard_url)
    _wait_http(settings, head, f"{settings.dashboard_url}/api/version", auth_headers(tpath))
    say(f"Ray dashboard            {settings.dashboard_url}")

    for index in range(1, settings.workers + 1):
        cmd = commands.ray_worker_command(settings, index, str(BIN_DIR / "ray"), memory)
        _start(settings, state, f"ray-worker-{index}", cmd, ray_env, logs, None)
    nodes_url = f"{settings.dashboard_url}/api/v0/nodes?detail=false&limit=100"
    wait_until(
        _alive_nodes_reach(nodes_url, settings.workers + 1, auth_headers(tpath)),
        service="ray workers",
        pid=head.pid,
        log_path=head.log_path,
        timeout_s=settings.start_timeout_s,
        what=f"report {settings.workers + 1} alive nodes",
    )
    say(f"Ray nodes alive          {settings.workers + 1}  (GCS {settings.ray_address})")

    _start_serve(settings, ray_env, head, logs)
    say(f"Ray Serve HTTP           {settings.serve_url}")
    say(f"Ray metrics              {settings.metrics_url}")
    _start_prometheus(settings, state, logs, say)


def _start_prometheus(settings: ClusterSettings, state: ClusterState, logs: Path, say: Say) -> None:
    if not settings.prometheus:
        say("Prometheus               off (--no-prometheus / RAYSHIP_PROMETHEUS=0)")
        return
    binary = shutil.which("prometheus")
    if binary is None:
        say(f"Prometheus               not started: {PROMETHEUS_MISSING}")
        return
    models = write_prometheus_files(settings)
    cmd = commands.prometheus_command(settings, binary)
    record = _start(settings, state, "prometheus", cmd, dict(os.environ), logs, settings.prometheus_url)
    _wait_http(settings, record, f"{settings.prometheus_url}/-/ready")
    say(f"Prometheus               {settings.prometheus_url}  (alert rules of {models} models; /alerts)")


def _start(
    settings: ClusterSettings,
    state: ClusterState,
    name: str,
    cmd: list[str],
    env: dict[str, str],
    logs: Path,
    url: str | None,
) -> ServiceRecord:
    log_path = logs / f"{name}.log"
    log_path.unlink(missing_ok=True)
    record = ServiceRecord(name=name, pid=spawn(cmd, env, log_path, cwd=settings.state_dir), log_path=log_path, url=url)
    state.services.append(record)
    save_state(settings.state_dir, state)  # recorded before waiting, so a failed start is still stopped
    return record


def _wait_http(settings: ClusterSettings, record: ServiceRecord, url: str, headers: dict | None = None) -> None:
    wait_until(
        http_answers(url, headers),
        service=record.name,
        pid=record.pid,
        log_path=record.log_path,
        timeout_s=settings.start_timeout_s,
        what=f"answer on {url}",
    )


def _alive_nodes_reach(url: str, count: int, headers: dict[str, str]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            body = httpx.get(url, headers=headers, timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return False
        nodes = body.get("data", {}).get("result", {}).get("result", [])
        return sum(node.get("state") == "ALIVE" for node in nodes) >= count

    return check


def _start_serve(settings: ClusterSettings, ray_env: dict[str, str], head: ServiceRecord, logs: Path) -> None:
    """Serve's controller and proxies are Ray actors: they live in the head's session and stop with it."""
    log_path = logs / "serve-start.log"
    env = dict(ray_env, RAY_ADDRESS=settings.ray_address)
    with open(log_path, "wb") as log:
        result = subprocess.run(  # noqa: S603
            commands.serve_start_command(settings, str(BIN_DIR / "serve")),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=settings.start_timeout_s,
            check=False,
        )
    if result.returncode != 0:
        raise ServeStartError(result.returncode, log_tail(log_path))
    # The proxy answers /-/healthz (503 until an app is deployed): any answer means it listens.
    wait_until(
        http_answers(f"{settings.serve_url}/-/healthz", ok=lambda _r: True),
        service="serve proxy",
        pid=head.pid,
        log_path=log_path,
        timeout_s=settings.start_timeout_s,
        what=f"listen on {settings.serve_url}",
    )


def _stop_all(state: ClusterState, say: Say) -> int:
    for record in reversed(state.services):
        found = stop_session(record.pid)
        say(
            f"stopped {record.name} (pid {record.pid}, {found} processes)"
            if found
            else f"{record.name} (pid {record.pid}) was not running"
        )
    return len(state.services)


def _check_ports(settings: ClusterSettings) -> None:
    skipped = set() if settings.prometheus else {"prometheus_port"}
    wanted = [(name.removesuffix("_port"), getattr(settings, name)) for name in PORT_FIELDS if name not in skipped]
    for index in range(settings.workers + 1):
        node = "head" if index == 0 else f"worker {index}"
        wanted += [
            (f"{node} {flag.removesuffix('-port')}, from worker_port_base", port)
            for flag, port in commands.node_ports(settings, index).items()
        ]
    for name, port in wanted:
        if not port_is_free(settings.host, port):
            raise PortInUseError(name, settings.host, port, port_holder(port))
