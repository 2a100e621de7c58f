"""The retraining trigger's loop: read alerts, decide, and move the open cycle one step per poll.

Every step is written to the registry before its side effect is taken up again, so the loop can die anywhere:
a restarted trigger finds the open cycle and resumes it (`Cycle` explains how each stage is found again). The
trigger never promotes: a registered version that passed the gate is handed to the canary driver, whose analysis
alone decides.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlflow import MlflowClient

from monitoring.retrain.cycle import Cycle
from monitoring.retrain.decide import Choice, FiringAlert, choose
from monitoring.retrain.jobs import TERMINAL_STATES, JobRequest, JobRunner
from monitoring.retrain.lineage import champion_version, load_cycles, save_cycle, version_of_cycle
from monitoring.spec import RetrainSpec
from rayship.errors import UnavailableError
from registry import tags

Say = Callable[[str], None]
# `python -m rollout canary`'s exit codes (rollout/cli.py): 0 promoted, 1 rolled back, 2 bad input, 3 refused or
# unreachable (another driver holds the lease, the cluster is down): retried, at most once per CANARY_RESTART_S.
CANARY_VERDICTS = {0: "promoted", 1: "rolled_back"}
CANARY_BAD_INPUT = 2
CANARY_RESTART_S = 30.0


class CanaryProcess(Protocol):
    def poll(self) -> int | None: ...


@dataclass
class Watch:
    """One model's trigger. `read_alerts`, `start_canary` and `clock` are the edges a test can drive."""

    model: str
    spec: RetrainSpec
    runner: JobRunner
    client: MlflowClient
    read_alerts: Callable[[], list[FiringAlert]]
    start_canary: Callable[[str], CanaryProcess]
    training_argv: Callable[[str], list[str]]
    clock: Callable[[], float]
    say: Say = print
    _canary: CanaryProcess | None = field(default=None, init=False)
    _canary_started_at: float = field(default=0.0, init=False)
    _last_said: str | None = field(default=None, init=False)
    _told_steps: dict[str, int] = field(default_factory=dict, init=False)

    def poll(self) -> Cycle | None:
        """One round; returns the cycle it moved, if any. A dependency that is down (MLflow, the Jobs API,
        Prometheus) makes it wait and say so: every step is idempotent, so the next round retries it."""
        try:
            return self._round()
        except UnavailableError as exc:
            self._tell(f"waiting: {exc}")
            return None

    def _round(self) -> Cycle | None:
        cycles = load_cycles(self.client, self.model)
        open_cycle = next((cycle for cycle in cycles if not cycle.finished), None)
        if open_cycle is not None:
            return self._advance(open_cycle)
        alerts = self.read_alerts()
        choice = choose(alerts, self.spec, self.model, champion_version(self.client, self.model), cycles, self.clock())
        self._tell(f"{choice.action}: {choice.reason}")
        return self._start(choice) if choice.action == "submit" else None

    def _start(self, choice: Choice) -> Cycle:
        assert choice.alert is not None and choice.cycle_id is not None
        now = self.clock()
        alert = choice.alert
        cycle = Cycle(
            id=choice.cycle_id, alert=alert, stage="submitting", started_at_s=now, job_runner=self.runner.where
        )
        value = "" if alert.value is None else f" (value {alert.value:.3f})"
        cycle = cycle.advanced(now, "alert", f"{alert.name} on {alert.model} v{alert.version}{value}")
        save_cycle(self.client, cycle)
        return self._submit(cycle)

    def _advance(self, cycle: Cycle) -> Cycle:
        if cycle.stage == "submitting":
            return self._submit(cycle)
        if cycle.stage == "running":
            return self._follow_job(cycle)
        return self._follow_rollout(cycle)

    def _submit(self, cycle: Cycle) -> Cycle:
        request = JobRequest(
            submission_id=cycle.id,
            entrypoint=self.training_argv(cycle.id),
            metadata={"model": self.model, "alert": cycle.alert.name, "version": cycle.alert.version},
        )
        created = self.runner.submit(request)
        detail = f"job {cycle.id} submitted to {self.runner.where}" if created else f"job {cycle.id} already existed"
        return self._save(cycle.advanced(self.clock(), "submitted", detail, stage="running"))

    def _follow_job(self, cycle: Cycle) -> Cycle:
        job = self.runner.view(cycle.id)
        now = self.clock()
        if job.state != cycle.job_state:
            message = f": {job.message}" if job.message else ""
            cycle = self._save(cycle.advanced(now, "job", f"{job.state}{message}", job_state=job.state))
        if job.state not in TERMINAL_STATES:
            if now - cycle.started_at_s > self.spec.job_timeout_s:
                self._tell(f"job {cycle.id} is still {job.state} after {now - cycle.started_at_s:.0f} s")
            return cycle
        if job.state != "SUCCEEDED":
            return self._save(
                cycle.advanced(now, "verdict", "the job failed: no version", stage="failed", outcome="job_failed")
            )
        return self._registered(cycle, now)

    def _registered(self, cycle: Cycle, now: float) -> Cycle:
        version = version_of_cycle(self.client, self.model, cycle.id)
        if version is None:
            return self._save(
                cycle.advanced(now, "verdict", "the job registered no version", stage="failed", outcome="no_version")
            )
        number, run_id = version["version"], version["run_id"]
        passed = version.get(tags.GATE) in ("passed", "off")
        cycle = cycle.advanced(
            now, "registered", f"{self.model} v{number} from run {run_id}", version=number, run_id=run_id
        )
        reasons = version.get(tags.GATE_REASONS) or version.get(tags.GATE, "no gate")
        cycle = cycle.advanced(now, "gate", f"{'passed' if passed else 'failed'}: {reasons}", gate_passed=passed)
        if not passed:
            return self._save(cycle.advanced(now, "verdict", "not rolled out", stage="done", outcome="gate_failed"))
        if self.spec.auto_rollout == "none":
            return self._save(
                cycle.advanced(
                    now, "verdict", "auto_rollout is none: not rolled out", stage="done", outcome="not_rolled_out"
                )
            )
        cycle = self._save(cycle.advanced(now, "rollout", f"canary of v{number} started", stage="rolling_out"))
        self._canary, self._canary_started_at = self.start_canary(number), self.clock()
        return cycle

    def _follow_rollout(self, cycle: Cycle) -> Cycle:
        assert cycle.version is not None
        version = version_of_cycle(self.client, self.model, cycle.id) or {}
        verdict = version.get(tags.ROLLOUT_VERDICT)
        exit_code = None if self._canary is None else self._canary.poll()
        if verdict is None and exit_code in CANARY_VERDICTS:
            verdict = CANARY_VERDICTS[exit_code]  # the driver decided but its verdict tag did not reach MLflow
        if verdict is not None:
            self._canary = None
            return self._verdict(cycle, verdict, version.get(tags.ROLLOUT_ID))
        if exit_code == CANARY_BAD_INPUT:
            self._canary = None
            detail = "the canary driver refused its input (exit 2): not rolled out; see its log"
            return self._save(cycle.advanced(self.clock(), "verdict", detail, stage="failed", outcome="not_rolled_out"))
        if self._canary is None or (exit_code is not None and self._may_restart()):
            # No driver of ours runs (the trigger restarted, or the driver was refused or lost the cluster): start
            # one; while an old one still runs, its lease refuses the new one, which is retried after a pause.
            self._canary, self._canary_started_at = self.start_canary(cycle.version), self.clock()
        return cycle

    def _may_restart(self) -> bool:
        return self.clock() - self._canary_started_at >= CANARY_RESTART_S

    def _verdict(self, cycle: Cycle, verdict: str, rollout_id: str | None) -> Cycle:
        outcome = "promoted" if verdict == "promoted" else "rolled_back"
        detail = f"canary {rollout_id or '(id not recorded)'}: {verdict}"
        return self._save(
            cycle.advanced(self.clock(), "verdict", detail, stage="done", outcome=outcome, rollout_id=rollout_id)
        )

    def _save(self, cycle: Cycle) -> Cycle:
        save_cycle(self.client, cycle)
        for step in cycle.steps[self._told_steps.get(cycle.id, 0) :]:
            self._tell(f"{cycle.id}: {step.step} - {step.detail}")
        self._told_steps[cycle.id] = len(cycle.steps)
        return cycle

    def _tell(self, line: str) -> None:
        if line != self._last_said:  # one line per change, not per poll
            self.say(line)
            self._last_said = line


def training_argv(spec: RetrainSpec, root: Path, python: str = sys.executable) -> Callable[[str], list[str]]:
    """The job's command: the model's sweep spec, `--register`, tagged with the cycle, on the spec's fresh data."""

    def argv(cycle_id: str) -> list[str]:
        command = [python, "-m", "training", "sweep", "--config", str(under(root, spec.training_spec)), "--register"]
        command += ["--tag", f"{tags.RETRAINED_BY}={cycle_id}"]
        if spec.data is not None:
            command += ["--data", spec.data if "://" in spec.data else str(under(root, Path(spec.data)))]
        return command

    return argv


def under(root: Path, path: Path) -> Path:
    """A spec's path: as written when absolute, else relative to `root` (the repository)."""
    return path if path.is_absolute() else root / path
