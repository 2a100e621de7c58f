"""The one rollout loop: observe, decide (`rollout.policy.step`), persist, apply. Clock, metrics source,
router, registry and store are injected, so the whole loop runs in unit tests with fakes.

Order of every action: the decision is persisted as an intent (`RolloutStore.begin`), the router applies it,
the event log records it (`commit`). A rerun after `kill -9` finishes a pending intent first (`_recover`),
then continues from the stored state. Two phases for a new version (DESIGN.md decision 2): its app is deployed
and RUNNING before any weight names it. After the verdict, the losing version's app stays warm for
`warm_window_s` (an `abort` in that window switches a promotion back), then it is removed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from registry.errors import InvalidInputError, RayshipError, UnavailableError
from rollout.clock import Clock
from rollout.effects import apply_effect, deploy_effect, remove_effect, route_effect, verdict_of
from rollout.history import Progress
from rollout.lease import LeaseFile
from rollout.metrics_source import MetricsSource, StatsSnapshot, observation_between
from rollout.observation import Observation
from rollout.policy import TERMINAL_PHASES, Action, Decision, Phase, RolloutState, abort, start, step
from rollout.routers.base import RUNNING, Router
from rollout.serve_config import gateway_policy, version_app_name
from rollout.spec import RolloutSpec, sticky_header
from rollout.store import Intent, RolloutStore

DEPLOY = "deploy_candidate"
REMOVE = "remove_version"
REVERT = "revert"


class RolloutRegistry(Protocol):
    def record_outcome(self, model: str, champion: str, candidate: str, verdict: str, rollout_id: str) -> None:
        """Tag both versions with the verdict and rollout id; 'promoted' moves the champion alias to the
        candidate, 'reverted' moves it back to the champion. Must be idempotent (it may be replayed)."""
        ...


class NotAChangeError(InvalidInputError):
    def __init__(self, model: str, version: str) -> None:
        super().__init__(f"Version '{version}' already is the champion of model '{model}'")


@dataclass(frozen=True)
class DriverSettings:
    lease_ttl_s: float = 300.0  # covers the longest blocking step (a deploy); dead local holders are taken over
    min_sleep_s: float = 0.1
    apply_attempts: int = 5
    retry_backoff_s: float = 1.0
    baseline_timeout_s: float = 2.5  # wait this long for stats that include everything before a change


@dataclass
class Baseline:
    snapshot: StatsSnapshot
    at_s: float


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
        self.baseline: Baseline | None = None

    # --- entry points -------------------------------------------------------------------------------------

    def run(self, candidate: str, champion: str | None = None) -> RolloutState:
        """Roll `candidate` out (or resume the model's unfinished rollout) through verdict and clean-up."""
        self._acquire()
        try:
            recovered = self._recover()
            state = self._resume_or_start(candidate, champion, recovered)
            state = self._drive(state)
            return self._finish(state, wait=True)
        finally:
            self.lease.release(self.owner)

    def abort_now(self, reason: str) -> RolloutState | None:
        """Roll back the model's rollout with no driver running; None when it never had one."""
        self._acquire()
        try:
            self._recover()
            stored = self.store.load()
            if stored is None:
                return None
            state = stored.state
            if state.phase not in TERMINAL_PHASES:
                state = self._act(state, abort(state, reason), verdict="aborted")
            elif _promoted(state) and not self._cleaned(state):
                state = self._revert(state, reason)
            return self._finish(state, wait=False)
        finally:
            self.lease.release(self.owner)

    # --- the loop -------------------------------------------------------------------------------------------

    def _drive(self, state: RolloutState) -> RolloutState:
        while state.phase not in TERMINAL_PHASES:
            self._renew()
            reason = self.store.abort_request()
            if reason is not None:
                self.store.clear_abort()
                promoted = _promoted(state)
                state = self._revert(state, reason) if promoted else self._act(state, abort(state, reason), "aborted")
            elif state.phase is Phase.INITIALIZED and not self._candidate_ready(state):
                if not self._deploy(state):
                    state = self._act(state, abort(state, f"version {state.candidate} failed to start"), "aborted")
            else:
                state = self._step(state)
        return state

    def _step(self, state: RolloutState) -> RolloutState:
        observation, latest = self._observe(state)
        decision = step(state, observation, self.spec, self.clock.now())
        consumed = observation is not None and decision.state.interval_started_at_s == observation.collected_at_s
        if decision.action is Action.HOLD or decision.action is Action.PAUSE:
            state = self._record(state, decision)
            if consumed or self.baseline is None:
                self.baseline = latest
            self._emit(decision.action.value, decision.state, observation, decision.checks)
            self._sleep_until_interval_end(state)
            return state
        state = self._act(state, decision, observation=observation)
        self._sleep_until_interval_end(state)
        return state

    def _record(self, state: RolloutState, decision: Decision) -> RolloutState:
        if decision.action is Action.PAUSE:
            intent = self.store.begin(
                Action.PAUSE.value, {"kind": "none"}, decision.state, decision.reason, self._now()
            )
            self.store.commit(intent, self._now())
        elif decision.state != state:
            self.store.save_state(decision.state)
        return decision.state

    def _act(
        self,
        state: RolloutState,
        decision: Decision,
        verdict: str | None = None,
        observation: Observation | None = None,
    ) -> RolloutState:
        """Persist the decision as an intent, apply it, record it; a new baseline starts after the change."""
        effect = route_effect(state, decision, sticky_header(self.spec))
        outcome = verdict or verdict_of(decision.action)
        if outcome is not None:
            effect["verdict"] = {"verdict": outcome, "champion": state.champion, "candidate": state.candidate}
        intent = self.store.begin(decision.action.value, effect, decision.state, decision.reason, self._now())
        self._execute(intent)
        new_state = self.store.load().state
        live = new_state.phase in (Phase.PROGRESSING, Phase.PAUSED)
        self.baseline = self._snapshot_after(self._now()) if live else None
        self._emit(decision.action.value, new_state, observation, decision.checks)
        return new_state

    # --- applying -------------------------------------------------------------------------------------------

    def _execute(self, intent: Intent, replayed: bool = False) -> bool:
        """Apply and record an intent. A router that is unreachable is retried, then the driver stops with the
        intent still pending (a rerun replays it); any other failure is recorded and the state stays."""
        for attempt in range(1, self.settings.apply_attempts + 1):
            try:
                self._apply(intent)
            except UnavailableError:
                if attempt == self.settings.apply_attempts:
                    raise
                self.clock.sleep(self.settings.retry_backoff_s * attempt)
                continue
            except RayshipError as exc:
                self.store.commit(intent, self._now(), replayed=replayed, error=str(exc))
                return False
            self.store.commit(intent, self._now(), replayed=replayed)
            return True
        return False

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

    def _recover(self) -> bool:
        """Finish the step a killed driver left pending; True when there was one."""
        stored = self.store.load()
        if stored is None or stored.pending is None:
            return False
        if self.store.is_logged(stored.pending.step_id):
            self.store.commit(stored.pending, self._now())
        else:
            self._execute(stored.pending, replayed=True)
        return True

    # --- candidate app -------------------------------------------------------------------------------------

    def _candidate_ready(self, state: RolloutState) -> bool:
        config = self.router.read_config()
        listed = {route["version"] for route in gateway_policy(config, self.model)["versions"]}
        app = version_app_name(self.model, state.candidate)
        return state.candidate in listed and self.router.app_statuses().get(app) == RUNNING

    def _deploy(self, state: RolloutState) -> bool:
        effect = deploy_effect(self.router.read_config(), self.model, state.champion, state.candidate)
        intent = self.store.begin(DEPLOY, effect, state, f"deploy version {state.candidate}", self._now())
        deployed = self._execute(intent)
        self._emit(DEPLOY, state, None, [])
        return deployed

    # --- observing -----------------------------------------------------------------------------------------

    def _observe(self, state: RolloutState) -> tuple[Observation | None, Baseline | None]:
        if state.phase not in (Phase.PROGRESSING, Phase.PAUSED):
            return None, self.baseline
        latest = self._snapshot_after(None)
        if latest is None:  # stats unreadable: an empty window since the interval began, which is inconclusive
            now = self._now()
            return Observation(collected_at_s=now, window_s=max(now - state.interval_started_at_s, 1e-6)), None
        if self.baseline is None:
            return None, latest
        observation = observation_between(
            self.baseline.snapshot, latest.snapshot, self.baseline.at_s, latest.at_s, self._candidate_target()
        )
        return observation, latest

    def _snapshot_after(self, changed_at_s: float | None) -> Baseline | None:
        """A snapshot whose counters include everything up to `changed_at_s` (waiting briefly for the gateway
        replicas' next push), or None when the stats cannot be read."""
        deadline = self._now() + self.settings.baseline_timeout_s
        while True:
            try:
                snapshot = self.metrics.snapshot(self.model)
            except UnavailableError:
                return None
            fresh = changed_at_s is None or snapshot.oldest_push_at_s is None
            if fresh or snapshot.oldest_push_at_s >= changed_at_s or self._now() >= deadline:
                return Baseline(snapshot=snapshot, at_s=self._now())
            self.clock.sleep(0.25)

    def _candidate_target(self) -> str | None:
        return self.candidate_resolver() if self.candidate_resolver is not None else self.target_candidate

    def _sleep_until_interval_end(self, state: RolloutState) -> None:
        if state.phase in TERMINAL_PHASES or state.phase is Phase.INITIALIZED:
            return
        if self.baseline is None:  # a fresh window starts now; take its first snapshot promptly
            self.baseline = self._snapshot_after(state.interval_started_at_s)
        window_start = self.baseline.at_s if self.baseline is not None else state.interval_started_at_s
        elapsed = self._now() - window_start
        # Wake at the next whole interval of the window (a growing, inconclusive window is looked at once per
        # interval, not at every poll).
        remaining = (int(elapsed / self.spec.interval_s) + 1) * self.spec.interval_s - elapsed
        self.clock.sleep(max(remaining, self.settings.min_sleep_s))

    # --- start, resume, finish -----------------------------------------------------------------------------

    def _resume_or_start(self, candidate: str, champion: str | None, recovered: bool) -> RolloutState:
        self.target_candidate = candidate
        stored = self.store.load()
        if stored is not None and stored.state.phase not in TERMINAL_PHASES:
            return stored.state  # resume; a different candidate restarts the analysis through `step`
        # The rerun of a driver killed after its verdict: at most the clean-up is left.
        same_candidate = stored is not None and stored.state.candidate == candidate
        if same_candidate and (recovered or not self._cleaned(stored.state)):
            return stored.state
        if stored is not None and not self._cleaned(stored.state):
            self._finish(stored.state, wait=False)
        champion = champion or _policy_champion(gateway_policy(self.router.read_config(), self.model))
        if champion == candidate:
            raise NotAChangeError(self.model, candidate)
        state = start(self.new_id(), self.model, champion, candidate, self.spec, self._now())
        self.store.clear_abort()  # a request aimed at an earlier rollout
        self.store.create(state)
        self._emit("start", state, None, [])
        return state

    def _finish(self, state: RolloutState, wait: bool) -> RolloutState:
        """Keep the loser warm for the window (an abort then reverts a promotion), then remove it."""
        if self._cleaned(state):
            return state
        deadline = self._verdict_at(state) + self.spec.warm_window_s
        while wait and self._now() < deadline:
            self._renew()
            reason = self.store.abort_request()
            if reason is not None:
                self.store.clear_abort()
                if _promoted(state):
                    state = self._revert(state, reason)
            self.clock.sleep(min(max(deadline - self._now(), 0), 1.0))
        loser = state.champion if _promoted(state) else state.candidate
        effect = remove_effect(self.router.read_config(), self.model, loser)
        intent = self.store.begin(REMOVE, effect, state, f"remove version {loser}", self._now())
        self._execute(intent)
        self._emit(REMOVE, state, None, [])
        return self.store.load().state

    def _revert(self, state: RolloutState, reason: str) -> RolloutState:
        """Switch a promoted rollout back to the old champion (its app is still warm)."""
        reverted = state.model_copy(
            update={
                "phase": Phase.FAILED,
                "candidate_weight": 0,
                "message": f"aborted after promotion: {reason}",
            }
        )
        effect = {
            "kind": "route",
            "weights": {state.champion: 100, state.candidate: 0},
            "shadow": None,
            "champion": state.champion,
            "verdict": {"verdict": "reverted", "champion": state.champion, "candidate": state.candidate},
        }
        self._execute(self.store.begin(REVERT, effect, reverted, reverted.message, self._now()))
        new_state = self.store.load().state
        self._emit(REVERT, new_state, None, [])
        return new_state

    def _cleaned(self, state: RolloutState) -> bool:
        return any(
            event.rollout_id == state.rollout_id and event.action == REMOVE and event.error is None
            for event in self.store.events()
        )

    def _verdict_at(self, state: RolloutState) -> float:
        times = [
            event.applied_at_s
            for event in self.store.events()
            if event.rollout_id == state.rollout_id and event.phase in {Phase.SUCCEEDED, Phase.FAILED, Phase.PROMOTING}
        ]
        return max(times, default=self._now())

    # --- lease, clock, progress -----------------------------------------------------------------------------

    def _acquire(self) -> None:
        self.lease.acquire(self.owner, self.settings.lease_ttl_s, self._now(), holder_alive=self.holder_alive)

    def _renew(self) -> None:
        self.lease.renew(self.owner, self.settings.lease_ttl_s, self._now())

    def _now(self) -> float:
        return self.clock.now()

    def _emit(self, action: str, state: RolloutState, observation: Observation | None, checks: list) -> None:
        if self.on_progress is not None:
            progress = Progress(at_s=self._now(), action=action, state=state, observation=observation, checks=checks)
            self.on_progress(progress)


def _promoted(state: RolloutState) -> bool:
    return state.phase in {Phase.SUCCEEDED, Phase.PROMOTING} and state.candidate_weight == 100


def _policy_champion(policy: dict) -> str:
    if policy.get("champion"):
        return str(policy["champion"])
    return str(max(policy["versions"], key=lambda route: route["weight"])["version"])
