"""Wiring `python -m monitoring watch`: the runner, the canary process, the lease and the poll loop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import Field

from monitoring.contract import Strict
from monitoring.errors import MonitorSpecError
from monitoring.retrain.alerts_api import read_alerts
from monitoring.retrain.jobs import JobRunner
from monitoring.retrain.watch import Watch, training_argv, under
from monitoring.spec import MonitorSpec
from rayship.cluster_token import read_cluster_token
from rayship.lease import LeaseFile, local_holder_alive, local_owner_id
from registry.connection import connect

REPO_ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL_S = 60.0


class WatchOptions(Strict):
    """Where the trigger reads alerts, submits jobs and keeps its lease, from the command line."""

    prometheus_url: str = Field(description="Prometheus whose /api/v1/alerts is read.")
    interval_s: float = Field(gt=0, le=600, description="Seconds between two polls.")
    runner: str = Field(description="ray (the Jobs API of dashboard_url) or kuberay (a RayJob from the template).")
    dashboard_url: str = Field(description="The Ray dashboard, for runner ray.")
    rayjob_template: Path | None = Field(None, description="The rendered RayJob template, for runner kuberay.")
    state_dir: Path = Field(description="Holds the trigger's lease, the canary's state, reports and logs.")
    canary_args: list[str] = Field(default_factory=list, description="Extra arguments of the canary driver.")
    exit_after_cycle: bool = Field(False, description="Stop once a cycle has finished (demos and benchmarks).")
    max_polls: int | None = Field(None, ge=1, description="Stop after this many polls; None: run until stopped.")


def check_training_spec(spec: MonitorSpec) -> Path:
    """The retrain section's sweep spec, resolved; it must exist and register into this very model."""
    assert spec.retrain is not None
    path = under(REPO_ROOT, spec.retrain.training_spec)
    try:
        registers = (yaml.safe_load(path.read_text()) or {}).get("model_name")
    except (OSError, yaml.YAMLError) as exc:
        raise MonitorSpecError(f"retrain.training_spec {path}", f"cannot be read ({exc})") from None
    if registers != spec.model:
        raise MonitorSpecError(
            f"retrain.training_spec {path}", f"registers into model '{registers}', not '{spec.model}'"
        )
    return path


def make_runner(options: WatchOptions) -> JobRunner:
    if options.runner == "kuberay":
        from monitoring.retrain.kuberay_jobs import KubeRayJobRunner

        return KubeRayJobRunner.in_cluster(options.rayjob_template)
    from monitoring.retrain.ray_jobs import RayJobRunner

    return RayJobRunner(options.dashboard_url, read_cluster_token())


def canary_starter(
    spec: MonitorSpec, options: WatchOptions, say: Callable[[str], None]
) -> Callable[[str], subprocess.Popen]:
    """Start `python -m rollout canary` for a version, its output in `<state_dir>/logs/`."""
    assert spec.retrain is not None
    rollout_spec = under(REPO_ROOT, spec.retrain.rollout_spec)

    def start(version: str) -> subprocess.Popen:
        logs = options.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"canary-{spec.model}-v{version}.log"
        command = [
            sys.executable, "-m", "rollout", "canary",
            "--model", spec.model,
            "--candidate", f"models:/{spec.model}/{version}",
            "--spec", str(rollout_spec),
            "--no-live",
            "--state-dir", str(options.state_dir / "rollouts"),
            "--reports-dir", str(options.state_dir / "reports"),
            *options.canary_args,
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))  # noqa: S603
        say(f"canary driver of {spec.model} v{version} started (pid {process.pid}, log {log_path})")
        return process

    return start


def run_watch(spec: MonitorSpec, options: WatchOptions, say: Callable[[str], None] = print) -> int:
    """Poll until stopped (or until `exit_after_cycle` / `max_polls`); raises LeaseHeldError for a second trigger."""
    assert spec.retrain is not None
    check_training_spec(spec)
    lease = LeaseFile(options.state_dir / "retrain", spec.model, purpose="retraining")
    owner = local_owner_id(uuid.uuid4().hex[:8])
    lease.acquire(owner, LEASE_TTL_S, time.time(), local_holder_alive)
    watch = Watch(
        model=spec.model,
        spec=spec.retrain,
        runner=make_runner(options),
        client=connect(),
        read_alerts=lambda: read_alerts(options.prometheus_url),
        start_canary=canary_starter(spec, options, say),
        training_argv=training_argv(spec.retrain, REPO_ROOT),
        clock=time.time,
        say=say,
    )
    say(f"watching {spec.model}: alerts from {options.prometheus_url}, jobs to {watch.runner.where}")
    polls = 0
    try:
        while True:
            cycle = watch.poll()
            polls += 1
            if options.exit_after_cycle and cycle is not None and cycle.finished:
                return 0
            if options.max_polls is not None and polls >= options.max_polls:
                return 0
            time.sleep(options.interval_s)
            lease.renew(owner, LEASE_TTL_S, time.time())
    finally:
        lease.release(owner)
