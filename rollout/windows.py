"""The driver's analysis windows: a baseline snapshot when a window opens, the observation from it to the latest
snapshot, and when the window is next worth looking at.

A window opens after every applied change (with a snapshot whose counters include everything up to the change,
so the new weights are measured alone) and after every consumed observation; an inconclusive window is not
consumed and keeps growing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rayship.errors import UnavailableError
from rollout.adapters.metrics_source import MetricsSource, StatsSnapshot, observation_between
from rollout.clock import Clock
from rollout.core.observation import Observation
from rollout.core.state_machine import TERMINAL_PHASES, Phase, RolloutState

SNAPSHOT_POLL_S = 0.25


@dataclass
class Baseline:
    snapshot: StatsSnapshot
    at_s: float


class WindowObserver:
    """Turns one model's stats snapshots into observations for the policy, one window at a time."""

    def __init__(
        self,
        *,
        model: str,
        metrics: MetricsSource,
        clock: Clock,
        interval_s: float,
        baseline_timeout_s: float,
        min_sleep_s: float,
    ) -> None:
        self.model, self.metrics, self.clock, self.interval_s = model, metrics, clock, interval_s
        self.baseline_timeout_s, self.min_sleep_s = baseline_timeout_s, min_sleep_s
        self.baseline: Baseline | None = None

    def observe(
        self, state: RolloutState, candidate: Callable[[], str | None]
    ) -> tuple[Observation | None, Baseline | None]:
        """The window since the baseline (None without one) and the snapshot that ends it; `candidate` names the
        version the driver targets now (asked only when there is a window)."""
        if state.phase not in (Phase.PROGRESSING, Phase.PAUSED):
            return None, self.baseline
        latest = self.snapshot_after(None)
        if latest is None:  # stats unreadable: an empty window since the interval began, which is inconclusive
            now = self.clock.now()
            return Observation(collected_at_s=now, window_s=max(now - state.interval_started_at_s, 1e-6)), None
        if self.baseline is None:
            return None, latest
        observation = observation_between(
            self.baseline.snapshot, latest.snapshot, self.baseline.at_s, latest.at_s, candidate()
        )
        return observation, latest

    def held(self, latest: Baseline | None, consumed: bool) -> None:
        """After a decision that applied nothing: a consumed window is followed by one from its end."""
        if consumed or self.baseline is None:
            self.baseline = latest

    def changed(self, live: bool) -> None:
        """After an applied change: a new window opens now, while the rollout is still live."""
        self.baseline = self.snapshot_after(self.clock.now()) if live else None

    def snapshot_after(self, changed_at_s: float | None) -> Baseline | None:
        """A snapshot whose counters include everything up to `changed_at_s` (waiting briefly for the gateway
        replicas' next push), or None when the stats cannot be read."""
        deadline = self.clock.now() + self.baseline_timeout_s
        while True:
            try:
                snapshot = self.metrics.snapshot(self.model)
            except UnavailableError:
                return None
            fresh = changed_at_s is None or snapshot.oldest_push_at_s is None
            if fresh or snapshot.oldest_push_at_s >= changed_at_s or self.clock.now() >= deadline:
                return Baseline(snapshot=snapshot, at_s=self.clock.now())
            self.clock.sleep(SNAPSHOT_POLL_S)

    def sleep_until_interval_end(self, state: RolloutState) -> None:
        if state.phase in TERMINAL_PHASES or state.phase is Phase.INITIALIZED:
            return
        if self.baseline is None:  # a fresh window starts now; take its first snapshot promptly
            self.baseline = self.snapshot_after(state.interval_started_at_s)
        window_start = self.baseline.at_s if self.baseline is not None else state.interval_started_at_s
        elapsed = self.clock.now() - window_start
        # Wake at the next whole interval of the window (a growing, inconclusive window is looked at once per
        # interval, not at every poll).
        remaining = (int(elapsed / self.interval_s) + 1) * self.interval_s - elapsed
        self.clock.sleep(max(remaining, self.min_sleep_s))
