"""The one rollout loop: observe, decide (`rollout.core.state_machine.step`), persist, apply. Clock, metrics source,
router, registry and store are injected, so the whole loop runs in unit tests with fakes.

The loop is here; each concern it relies on has a module of its own:
- `rollout.steps`: every step is persisted as an intent before the router applies it and recorded after; a rerun
  after `kill -9` finishes a pending intent first, then continues from the stored state;
- `rollout.windows`: the analysis window after each change or consumed observation, and when to look again;
- `rollout.finish`: after the verdict, the losing version's app stays warm for `warm_window_s` (an `abort` in
  that window switches a promotion back), then it is removed.
Two phases for a new version (docs/design.md, decision 2): its app is deployed and RUNNING before any weight names it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from deployments.app_config import version_app_name
from rayship.lease import LeaseFile
from rollout.adapters.metrics_source import MetricsSource
from rollout.adapters.routers.base import RUNNING, Router
from rollout.clock import Clock
from rollout.core.analysis import CheckResult
from rollout.core.observation import Observation
from rollout.core.spec import RolloutSpec, sticky_header
from rollout.core.state_machine import TERMINAL_PHASES, Action, Decision, Phase, RolloutState, abort, start, step
from rollout.effects import DeployEffect, NoEffect, VerdictName, route_effect, verdict_of
from rollout.errors import NotAChangeError
from rollout.finish import Finisher, promoted
from rollout.persistence.history import Progress
from rollout.persistence.store import RolloutStore
from rollout.serve_edits import candidate_app
from rollout.steps import DEPLOY, RolloutRegistry, StepExecutor
from rollout.windows import WindowObserver


@dataclass(frozen=True)
class DriverSettings:
    lease_ttl_s: float = 300.0  # covers the longest blocking step (a deploy); dead local holders are taken over
    min_sleep_s: float = 0.1
    apply_attempts: int = 5
    retry_backoff_s: float = 1.0
    baseline_timeout_s: float = 2.5  # wait this long for stats that include everything before a change


class RolloutDriver:
    def __init__(
        self,
        *,
        model: str,
        spec: RolloutSpec,
        router: Router,
        metrics: MetricsSource,
        store: RolloutStore,
        lease: LeaseFile,
        clock: Clock,
        owner: str,
        registry: RolloutRegistry | None = None,
        candidate_resolver: Callable[[], str | None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        holder_alive: Callable[[str], bool] | None = None,
        settings: DriverSettings = DriverSettings(),  # noqa: B008 - frozen dataclass, safe default
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
    ) -> None:
        self.model, self.spec, self.router, self.metrics = model, spec, router, metrics
        self.store, self.lease, self.clock, self.owner = store, lease, clock, owner
        self.registry, self.candidate_resolver, self.on_progress = registry, candidate_resolver, on_progress
        self.holder_alive, self.settings, self.new_id = holder_alive, settings, new_id
        self.target_candidate: str | None = None
        self.steps = StepExecutor(
            model=model,
            router=router,
            store=store,
            clock=clock,
            registry=registry,
            attempts=settings.apply_attempts,
            retry_backoff_s=settings.retry_backoff_s,
        )
        self.windows = WindowObserver(
            model=model,
            metrics=metrics,
            clock=clock,
            interval_s=spec.interval_s,
            baseline_timeout_s=settings.baseline_timeout_s,
            min_sleep_s=settings.min_sleep_s,
        )
        self.finisher = Finisher(
            model=model,
            router=router,
            store=store,
            steps=self.steps,
            clock=clock,
            warm_window_s=spec.warm_window_s,
            renew=self._renew,
            emit=lambda action, state: self._emit(action, state, None, []),
        )

    # --- entry points -------------------------------------------------------------------------------------

    def run(self, candidate: str, champion: str | None = None) -> RolloutState:
        """Roll `candidate` out (or resume the model's unfinished rollout) through verdict and clean-up."""
        self._acquire()
        try:
            recovered = self.steps.recover() is not None
            state = self._resume_or_start(candidate, champion, recovered)
            state = self._drive(state)
            return self.finisher.finish(state, wait=True)
        finally:
            self.lease.release(self.owner)

    def abort_now(self, reason: str) -> RolloutState | None:
        """Roll back the model's rollout with no driver running; None when it never had one."""
        self._acquire()
        try:
            self.steps.recover()
            stored = self.store.load()
            if stored is None:
                return None
            state = stored.state
            if state.phase not in TERMINAL_PHASES:
                state = self._act(state, abort(state, reason), verdict="aborted")
            elif promoted(state) and not self.finisher.cleaned(state):
                state = self.finisher.revert(state, reason)
            return self.finisher.finish(state, wait=False)
        finally:
            self.lease.release(self.owner)

    # --- the loop -------------------------------------------------------------------------------------------

    def _drive(self, state: RolloutState) -> RolloutState:
        while state.phase not in TERMINAL_PHASES:
            self._renew()
            reason = self.store.abort_request()
            if reason is not None:
                self.store.clear_abort()
                if promoted(state):
                    state = self.finisher.revert(state, reason)
                else:
                    state = self._act(state, abort(state, reason), "aborted")
            elif state.phase is Phase.INITIALIZED and not self._candidate_ready(state):
                if not self._deploy(state):
                    state = self._act(state, abort(state, f"version {state.candidate} failed to start"), "aborted")
            else:
                state = self._step(state)
        return state

    def _step(self, state: RolloutState) -> RolloutState:
        observation, latest = self.windows.observe(state, self._candidate_target)
        decision = step(state, observation, self.spec, self.clock.now())
        if decision.action is Action.HOLD or decision.action is Action.PAUSE:
            consumed = observation is not None and decision.state.interval_started_at_s == observation.collected_at_s
            state = self._record(state, decision)
            self.windows.held(latest, consumed)
            self._emit(decision.action.value, decision.state, observation, decision.checks)
        else:
            state = self._act(state, decision, observation=observation)
        self.windows.sleep_until_interval_end(state)
        return state

    def _record(self, state: RolloutState, decision: Decision) -> RolloutState:
        if decision.action is Action.PAUSE:
            intent = self.store.begin(Action.PAUSE.value, NoEffect(), decision.state, decision.reason, self.clock.now())
            self.store.commit(intent, self.clock.now())
        elif decision.state != state:
            self.store.save_state(decision.state)
        return decision.state

    def _act(
        self,
        state: RolloutState,
        decision: Decision,
        verdict: VerdictName | None = None,
        observation: Observation | None = None,
    ) -> RolloutState:
        """Persist the decision as an intent, apply it, record it; a new window starts after the change."""
        effect = route_effect(state, decision, sticky_header(self.spec), verdict or verdict_of(decision.action))
        self.steps.perform(decision.action.value, effect, decision.state, decision.reason)
        new_state = self.store.load().state
        self.windows.changed(live=new_state.phase in (Phase.PROGRESSING, Phase.PAUSED))
        self._emit(decision.action.value, new_state, observation, decision.checks)
        return new_state

    # --- candidate app -------------------------------------------------------------------------------------

    def _candidate_ready(self, state: RolloutState) -> bool:
        listed = self.router.applied().policy(self.model).route(state.candidate) is not None
        app = version_app_name(self.model, state.candidate)
        return listed and self.router.app_statuses().get(app) == RUNNING

    def _deploy(self, state: RolloutState) -> bool:
        app = candidate_app(self.router.applied(), self.model, state.champion, state.candidate)
        effect = DeployEffect(version=state.candidate, app=app)
        deployed = self.steps.perform(DEPLOY, effect, state, f"deploy version {state.candidate}")
        self._emit(DEPLOY, state, None, [])
        return deployed

    def _candidate_target(self) -> str | None:
        return self.candidate_resolver() if self.candidate_resolver is not None else self.target_candidate

    # --- start or resume ------------------------------------------------------------------------------------

    def _resume_or_start(self, candidate: str, champion: str | None, recovered: bool) -> RolloutState:
        self.target_candidate = candidate
        stored = self.store.load()
        if stored is not None and stored.state.phase not in TERMINAL_PHASES:
            return stored.state  # resume; a different candidate restarts the analysis through `step`
        # The rerun of a driver killed after its verdict: at most the clean-up is left.
        same_candidate = stored is not None and stored.state.candidate == candidate
        if same_candidate and (recovered or not self.finisher.cleaned(stored.state)):
            return stored.state
        if stored is not None and not self.finisher.cleaned(stored.state):
            self.finisher.finish(stored.state, wait=False)
        champion = champion or self.router.applied().policy(self.model).champion_version
        if champion == candidate:
            raise NotAChangeError(self.model, candidate)
        state = start(self.new_id(), self.model, champion, candidate, self.spec, self.clock.now())
        self.store.clear_abort()  # a request aimed at an earlier rollout
        self.store.create(state)
        self._emit("start", state, None, [])
        return state

    # --- lease, progress ------------------------------------------------------------------------------------

    def _acquire(self) -> None:
        self.lease.acquire(self.owner, self.settings.lease_ttl_s, self.clock.now(), holder_alive=self.holder_alive)

    def _renew(self) -> None:
        self.lease.renew(self.owner, self.settings.lease_ttl_s, self.clock.now())

    def _emit(
        self, action: str, state: RolloutState, observation: Observation | None, checks: list[CheckResult]
    ) -> None:
        if self.on_progress is not None:
            progress = Progress(
                at_s=self.clock.now(), action=action, state=state, observation=observation, checks=checks
            )
            self.on_progress(progress)
