"""Applying rollout steps durably: "intent, then applied" (see `rollout.persistence.store`), with retries and crash
recovery.

A step is persisted as an intent (`RolloutStore.begin`) before the router is touched; the router applies its
effect (`rollout.effects.apply_effect`, idempotent) and the registry records a verdict it carries; then the
event log records it (`commit`). A rerun after `kill -9` finishes the pending intent first (`recover`).
"""

from __future__ import annotations

from typing import Protocol

from rayship.errors import RayshipError, UnavailableError
from rollout.adapters.routers.base import Router
from rollout.clock import Clock
from rollout.core.state_machine import RolloutState
from rollout.effects import Effect, apply_effect
from rollout.persistence.store import Intent, RolloutStore

# The driver's own steps, beside the policy's actions (`rollout.core.state_machine.Action`) in the event log.
DEPLOY = "deploy_candidate"
REMOVE = "remove_version"
REVERT = "revert"


class RolloutRegistry(Protocol):
    def record_outcome(self, model: str, champion: str, candidate: str, verdict: str, rollout_id: str) -> None:
        """Tag both versions with the verdict and rollout id; 'promoted' moves the champion alias to the
        candidate, 'reverted' moves it back to the champion. Must be idempotent (it may be replayed)."""
        ...


class StepExecutor:
    """Persists, applies and records the steps of one model's rollouts."""

    def __init__(
        self,
        *,
        model: str,
        router: Router,
        store: RolloutStore,
        clock: Clock,
        registry: RolloutRegistry | None,
        attempts: int,
        retry_backoff_s: float,
    ) -> None:
        self.model, self.router, self.store, self.clock, self.registry = model, router, store, clock, registry
        self.attempts, self.retry_backoff_s = attempts, retry_backoff_s

    def perform(self, action: str, effect: Effect, state_after: RolloutState, reason: str) -> bool:
        """Persist the step as an intent, then apply and record it; False when it could not be applied."""
        return self.execute(self.store.begin(action, effect, state_after, reason, self.clock.now()))

    def execute(self, intent: Intent, replayed: bool = False) -> bool:
        """Apply and record an intent. A router that is unreachable is retried, then the driver stops with the
        intent still pending (a rerun replays it); any other failure is recorded and the state stays."""
        for attempt in range(1, self.attempts + 1):
            try:
                self._apply(intent)
            except UnavailableError:
                if attempt == self.attempts:
                    raise
                self.clock.sleep(self.retry_backoff_s * attempt)
                continue
            except RayshipError as exc:
                self.store.commit(intent, self.clock.now(), replayed=replayed, error=str(exc))
                return False
            self.store.commit(intent, self.clock.now(), replayed=replayed)
            return True
        return False

    def recover(self) -> bool:
        """Finish the step a killed driver left pending; True when there was one."""
        stored = self.store.load()
        if stored is None or stored.pending is None:
            return False
        if self.store.is_logged(stored.pending.step_id):  # applied and logged: only the state file is behind
            self.store.commit(stored.pending, self.clock.now())
        else:
            self.execute(stored.pending, replayed=True)
        return True

    def _apply(self, intent: Intent) -> None:
        if intent.effect.get("kind", "none") != "none":
            config, wait_for = apply_effect(self.router.read_config(), self.model, intent.effect)
            self.router.write_config(config, wait_for)
        verdict = intent.effect.get("verdict")
        if verdict is not None and self.registry is not None:
            self.registry.record_outcome(
                self.model,
                verdict["champion"],
                verdict["candidate"],
                verdict["verdict"],
                intent.state_after.rollout_id,
            )
