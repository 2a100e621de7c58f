"""After the verdict: the losing version's app stays warm for `warm_window_s` (an `abort` in that window switches a
promotion back to the old champion), then it is removed. What is left to do is read from the event log, so a
driver killed at any point finishes the clean-up on its rerun.
"""

from __future__ import annotations

from collections.abc import Callable

from rollout.adapters.routers.base import Router
from rollout.clock import Clock
from rollout.core.state_machine import Phase, RolloutState
from rollout.effects import RemoveEffect, revert_effect
from rollout.persistence.store import RolloutStore
from rollout.serve_edits import version_app_of
from rollout.steps import REMOVE, REVERT, StepExecutor

VERDICT_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.PROMOTING})


def promoted(state: RolloutState) -> bool:
    return state.phase in {Phase.SUCCEEDED, Phase.PROMOTING} and state.candidate_weight == 100


class Finisher:
    """The warm window, a revert within it, and the removal of the loser's app."""

    def __init__(
        self,
        *,
        model: str,
        router: Router,
        store: RolloutStore,
        steps: StepExecutor,
        clock: Clock,
        warm_window_s: float,
        renew: Callable[[], None],
        emit: Callable[[str, RolloutState], None],
    ) -> None:
        self.model, self.router, self.store, self.steps, self.clock = model, router, store, steps, clock
        self.warm_window_s, self.renew, self.emit = warm_window_s, renew, emit

    def finish(self, state: RolloutState, wait: bool) -> RolloutState:
        """Keep the loser warm for the window (an abort then reverts a promotion), then remove it."""
        if self.cleaned(state):
            return state
        deadline = self._verdict_at(state) + self.warm_window_s
        while wait and self.clock.now() < deadline:
            self.renew()
            reason = self.store.abort_request()
            if reason is not None:
                self.store.clear_abort()
                if promoted(state):
                    state = self.revert(state, reason)
            self.clock.sleep(min(max(deadline - self.clock.now(), 0), 1.0))
        loser = state.champion if promoted(state) else state.candidate
        effect = RemoveEffect(version=loser, app=version_app_of(self.router.applied(), self.model, loser))
        self.steps.perform(REMOVE, effect, state, f"remove version {loser}")
        self.emit(REMOVE, state)
        return self.store.load().state

    def revert(self, state: RolloutState, reason: str) -> RolloutState:
        """Switch a promoted rollout back to the old champion (its app is still warm)."""
        reverted = state.model_copy(
            update={
                "phase": Phase.FAILED,
                "candidate_weight": 0,
                "message": f"aborted after promotion: {reason}",
            }
        )
        self.steps.perform(REVERT, revert_effect(state), reverted, reverted.message)
        new_state = self.store.load().state
        self.emit(REVERT, new_state)
        return new_state

    def cleaned(self, state: RolloutState) -> bool:
        """Whether the rollout's loser has been removed (nothing is left to do)."""
        return any(
            event.rollout_id == state.rollout_id and event.action == REMOVE and event.error is None
            for event in self.store.events()
        )

    def _verdict_at(self, state: RolloutState) -> float:
        times = [
            event.applied_at_s
            for event in self.store.events()
            if event.rollout_id == state.rollout_id and event.phase in VERDICT_PHASES
        ]
        return max(times, default=self.clock.now())
