"""Applying rollout steps durably: "intent, then applied" (see `rollout.persistence.store`), with retries and the
one crash-recovery path.

A step is persisted as an intent (`RolloutStore.begin`) before the router is touched; the router applies its
effect through its verbs (idempotent: every effect is absolute) and the registry records a verdict it carries; then
the event log records it (`commit`). A rerun after `kill -9` finishes the pending intent first (`recover`): when
its step is already in the event log only the state file is behind, otherwise the effect is applied again
(harmless when it had reached the router, necessary when it had not) and committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rayship.errors import RayshipError, UnavailableError
from rollout.clock import Clock
from rollout.core.state_machine import RolloutState
from rollout.effects import DeployEffect, Effect, RemoveEffect, RouteEffect, carried_verdict
from rollout.persistence.store import Intent, RolloutStore

if TYPE_CHECKING:  # the routers import Ray's Serve schema; applying steps needs only their verbs
    from rollout.adapters.routers.base import Router

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

    def recover(self) -> Intent | None:
        """Finish the step a killed driver left pending; returns it (None when there was none)."""
        stored = self.store.load()
        if stored is None or stored.pending is None:
            return None
        if self.store.is_logged(stored.pending.step_id):  # applied and logged: only the state file is behind
            self.store.commit(stored.pending, self.clock.now())
        else:
            self.execute(stored.pending, replayed=True)
        return stored.pending

    def _apply(self, intent: Intent) -> None:
        self._through_router(intent.effect)
        verdict = carried_verdict(intent.effect)
        if verdict is not None and self.registry is not None:
            self.registry.record_outcome(
                self.model, verdict.champion, verdict.candidate, verdict.verdict, intent.state_after.rollout_id
            )

    def _through_router(self, effect: Effect) -> None:
        if isinstance(effect, DeployEffect):
            self.router.add_version(self.model, effect.version, effect.app)
        elif isinstance(effect, RouteEffect):
            self.router.set_routes(self.model, effect)
        elif isinstance(effect, RemoveEffect):
            self.router.remove_version(self.model, effect.version, effect.app)
