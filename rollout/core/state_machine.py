"""The rollout state machine: `step(state, observation, spec, now_s) -> Decision`. Pure: no Ray, no MLflow, no
clock of its own; the driver persists the returned state and applies the action.

One schedule drives every strategy (`spec.schedule()`: the candidate weight per analysis step). Each step
lasts at least `interval_s`: only an observation window that starts after the step's weights were applied and
spans a whole interval is analysed, so a promotion takes at least interval_s x len(schedule). Per interval:
- too few candidate requests is inconclusive: hold and let the window grow until it has enough, pausing once
  it spans `max_inconclusive` intervals (never promote);
- a failed check is counted (cumulatively, as in Flagger); below `threshold` it is a blip: hold at this
  weight; at `threshold`: roll back (candidate weight 0 at once);
- all checks passed: go to the next step, or after the last one promote (canary, blue/green) or conclude
  (shadow, A/B tests; an A/B test promotes a candidate that is significantly better when `promote_winner` is
  set).

A different candidate in the observation restarts the analysis from the first step.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from rollout.core.analysis import CheckResult, describe_agreement, evaluate_checks, is_conclusive, two_proportion_z_test
from rollout.core.observation import Observation, VersionWindow
from rollout.core.spec import ABTestSpec, RolloutSpec, ShadowSpec, mirror_percent, promotes_on_success


class Phase(StrEnum):
    INITIALIZED = "Initialized"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})
# A window that starts exactly where the last one ended must not look stale after float subtraction.
CLOCK_TOLERANCE_S = 1e-6


class Action(StrEnum):
    HOLD = "hold"  # nothing to apply
    ADVANCE = "advance"  # set the candidate weight (and mirror) to the state's values
    PAUSE = "pause"  # keep the weights, stop advancing, tell a human
    PROMOTE = "promote"  # candidate to 100 %, it becomes the champion
    ROLLBACK = "rollback"  # candidate to 0 % at once; rollout failed
    RESTART = "restart"  # a new candidate replaced the old one: its weight to 0, analysis from the start
    CONCLUDE = "conclude"  # an experiment (shadow, A/B) ended without promotion: candidate to 0 %


class Totals(BaseModel):
    """Requests and errors summed over every analysed interval of the rollout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(default=0, ge=0, description="Requests over all analysed intervals.")
    errors: int = Field(default=0, ge=0, description="Failed requests over all analysed intervals.")
    shadow_rows_compared: int = Field(
        default=0, ge=0, description="Mirrored rows compared with the live answer over all analysed intervals."
    )
    shadow_rows_agreed: int = Field(default=0, ge=0, description="Of those, rows whose prediction equalled it.")

    def plus(self, window: VersionWindow) -> Totals:
        return Totals(
            requests=self.requests + window.requests,
            errors=self.errors + window.errors,
            shadow_rows_compared=self.shadow_rows_compared + window.shadow_rows_compared,
            shadow_rows_agreed=self.shadow_rows_agreed + window.shadow_rows_agreed,
        )


class RolloutState(BaseModel):
    """Everything the policy needs to continue a rollout; persisted (JSON) before every action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rollout_id: str = Field(description="Unique id of this rollout (used in tags, reports and the event log).")
    model: str = Field(description="Registered model name.")
    strategy: str = Field(description="canary, bluegreen, shadow or abtest.")
    champion: str = Field(description="Version serving users when the rollout started.")
    candidate: str = Field(description="Version being rolled out.")
    phase: Phase = Field(default=Phase.INITIALIZED, description="Where the rollout is (Flagger's phases).")
    step_index: int = Field(default=-1, ge=-1, description="Index into the spec's schedule; -1 before the first.")
    candidate_weight: int = Field(default=0, ge=0, le=100, description="Candidate's share of live traffic (%).")
    mirror_percent: int = Field(default=0, ge=0, le=100, description="Share of traffic mirrored to the candidate.")
    failed_checks: int = Field(default=0, ge=0, description="Intervals that failed a check (cumulative).")
    inconclusive: int = Field(default=0, ge=0, description="Consecutive intervals with too little data.")
    iterations: int = Field(default=0, ge=0, description="Conclusive intervals analysed.")
    started_at_s: float = Field(description="When the rollout (or its last restart) started, driver clock.")
    interval_started_at_s: float = Field(description="Start of the current analysis interval, driver clock.")
    candidate_totals: Totals = Field(default_factory=Totals, description="Candidate's traffic over the rollout.")
    champion_totals: Totals = Field(default_factory=Totals, description="Champion's traffic over the rollout.")
    message: str = Field(default="", description="Why the last decision was taken.")

    def weights(self) -> dict[str, int]:
        """The live split this state stands for: version -> percent."""
        return {self.champion: 100 - self.candidate_weight, self.candidate: self.candidate_weight}


class Decision(BaseModel):
    """What to do now and the state to persist before doing it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action = Field(description="What the driver must apply.")
    state: RolloutState = Field(description="The state after the action.")
    checks: list[CheckResult] = Field(default_factory=list, description="Checks of the interval just analysed.")

    @property
    def reason(self) -> str:
        return self.state.message


def start(rollout_id: str, model: str, champion: str, candidate: str, spec: RolloutSpec, now_s: float) -> RolloutState:
    """The state of a rollout that has not routed anything to the candidate yet."""
    return RolloutState(
        rollout_id=rollout_id,
        model=model,
        strategy=spec.strategy,
        champion=champion,
        candidate=candidate,
        started_at_s=now_s,
        interval_started_at_s=now_s,
        message=f"rollout of version {candidate} initialized",
    )


def step(state: RolloutState, observation: Observation | None, spec: RolloutSpec, now_s: float) -> Decision:
    """Decide the next action from the state and the latest observation (None before any was collected)."""
    if state.phase in TERMINAL_PHASES:
        return _hold(state, f"rollout already {state.phase.value.lower()}")
    if state.phase is Phase.PROMOTING:
        return _hold(state, f"version {state.candidate} promoted", phase=Phase.SUCCEEDED)
    new_candidate = observation.candidate_version if observation is not None else None
    if new_candidate is not None and new_candidate != state.candidate:
        return _restart(state, new_candidate, now_s)
    if state.phase is Phase.INITIALIZED:
        return _advance(state, spec, 0, now_s)
    if observation is None:
        return _hold(state, "waiting for the first observation")
    if observation.collected_at_s - observation.window_s < state.interval_started_at_s - CLOCK_TOLERANCE_S:
        return _hold(state, "observation predates the current weights; waiting for a fresh one")
    if observation.window_s < spec.interval_s - CLOCK_TOLERANCE_S:  # a full interval of the current weights
        return _hold(state, "interval not over yet")
    return _analyse(state, observation, spec, now_s)


def abort(state: RolloutState, reason: str) -> Decision:
    """Roll back at once on a human's request (or when the candidate cannot start)."""
    if state.phase in TERMINAL_PHASES:
        return _hold(state, f"rollout already {state.phase.value.lower()}")
    return _rollback(state, f"aborted: {reason}", [])


def _analyse(state: RolloutState, observation: Observation, spec: RolloutSpec, now_s: float) -> Decision:
    candidate = observation.window(state.candidate)
    champion = observation.window(state.champion)
    if not is_conclusive(spec, candidate):
        return _inconclusive(state, spec, observation, candidate.requests)
    state = state.model_copy(
        update={
            "interval_started_at_s": observation.collected_at_s,
            "candidate_totals": state.candidate_totals.plus(candidate),
            "champion_totals": state.champion_totals.plus(champion),
        }
    )
    checks = evaluate_checks(spec, candidate, champion)
    state = state.model_copy(update={"inconclusive": 0, "iterations": state.iterations + 1})
    failed = [check for check in checks if not check.passed]
    if failed:
        return _failed_interval(state, spec, failed, checks)
    return _passed_interval(state, spec, checks, now_s)


def _inconclusive(state: RolloutState, spec: RolloutSpec, observation: Observation, requests: int) -> Decision:
    """Too little data: the window is not consumed, so it keeps growing until it holds `min_requests`; the
    count is the number of whole intervals it has spanned (whatever the polling rate)."""
    count = max(int(observation.window_s / spec.interval_s + CLOCK_TOLERANCE_S), 1)
    reason = (
        f"inconclusive: {requests} candidate requests (< {spec.min_requests}) "
        f"in {observation.window_s:.1f} s, {count} interval{'s' if count > 1 else ''} so far"
    )
    state = state.model_copy(update={"inconclusive": count})
    if count >= spec.max_inconclusive and state.phase is not Phase.PAUSED:
        return _decide(Action.PAUSE, state, f"{reason}; paused", phase=Phase.PAUSED)
    return _hold(state, reason)


def _failed_interval(
    state: RolloutState, spec: RolloutSpec, failed: list[CheckResult], checks: list[CheckResult]
) -> Decision:
    count = state.failed_checks + 1
    state = state.model_copy(update={"failed_checks": count})
    what = "; ".join(f"{check.name}: {check.reason}" for check in failed)
    if count >= spec.threshold:
        message = f"failed checks {count}/{spec.threshold} ({what}); rolled back{_agreement_note(state, spec)}"
        return _rollback(state, message, checks)
    return _hold(state, f"failed checks {count}/{spec.threshold} ({what}); holding", checks, phase=Phase.PROGRESSING)


def _passed_interval(state: RolloutState, spec: RolloutSpec, checks: list[CheckResult], now_s: float) -> Decision:
    schedule = spec.schedule()
    next_index = state.step_index + 1
    if next_index < len(schedule):
        if schedule[next_index] == state.candidate_weight:
            message = f"step {next_index + 1}/{len(schedule)} at {state.candidate_weight}% passed its checks"
            state = state.model_copy(update={"step_index": next_index})
            return _hold(state, message, checks, phase=Phase.PROGRESSING)
        return _advance(state, spec, next_index, now_s, checks)
    ab_test = _ab_test_result(state, spec)
    summary = f"; {ab_test.summary}" if ab_test is not None else _agreement_note(state, spec)
    if promotes_on_success(spec) or (ab_test is not None and ab_test.promote):
        update = {"candidate_weight": 100, "mirror_percent": 0, "interval_started_at_s": now_s}
        state = state.model_copy(update=update)
        message = f"all {len(schedule)} steps passed{summary}; promoting"
        return _decide(Action.PROMOTE, state, message, checks, Phase.PROMOTING)
    state = state.model_copy(update={"candidate_weight": 0, "mirror_percent": 0})
    return _decide(
        Action.CONCLUDE,
        state,
        f"{spec.strategy} concluded after {len(schedule)} steps{summary}",
        checks,
        Phase.SUCCEEDED,
    )


def _agreement_note(state: RolloutState, spec: RolloutSpec) -> str:
    """A shadow's verdict says how often the candidate's mirrored answers agreed with the live ones over the
    analysed intervals."""
    if not isinstance(spec, ShadowSpec):
        return ""
    totals = state.candidate_totals
    described = describe_agreement(totals.shadow_rows_compared, totals.shadow_rows_agreed)
    return f"; agreement with version {state.champion}: {described}"


class ABTestResult(NamedTuple):
    promote: bool
    summary: str


def _ab_test_result(state: RolloutState, spec: RolloutSpec) -> ABTestResult | None:
    """The significance test over the whole A/B test (None for other strategies). It is reported either way;
    the candidate is promoted only with `promote_winner` and an error rate significantly lower than the
    champion's (one-sided two-proportion z-test)."""
    if not isinstance(spec, ABTestSpec):
        return None
    champion, candidate = state.champion_totals, state.candidate_totals
    rates = (
        f"candidate error rate {candidate.errors}/{candidate.requests} "
        f"vs champion {champion.errors}/{champion.requests}"
    )
    if champion.requests == 0 or candidate.requests == 0:
        return ABTestResult(False, f"{rates}: not tested (a version had no requests)")
    test = two_proportion_z_test(champion.errors, champion.requests, candidate.errors, candidate.requests)
    lower = test.p_value < spec.significance
    verdict = "significantly lower" if lower else "not significantly lower"
    detail = f"one-sided z-test p={test.p_value:.3g}, alpha={spec.significance:g}"
    return ABTestResult(spec.promote_winner and lower, f"{rates}: {verdict} ({detail})")


def _advance(
    state: RolloutState, spec: RolloutSpec, index: int, now_s: float, checks: list[CheckResult] | None = None
) -> Decision:
    schedule = spec.schedule()
    weight = schedule[index]
    update = {
        "step_index": index,
        "candidate_weight": weight,
        "mirror_percent": mirror_percent(spec),
        "interval_started_at_s": now_s,
    }
    message = f"step {index + 1}/{len(schedule)}: candidate weight {weight}%"
    return _decide(Action.ADVANCE, state.model_copy(update=update), message, checks or [], Phase.PROGRESSING)


def _restart(state: RolloutState, new_candidate: str, now_s: float) -> Decision:
    fresh = RolloutState(
        rollout_id=state.rollout_id,
        model=state.model,
        strategy=state.strategy,
        champion=state.champion,
        candidate=new_candidate,
        started_at_s=now_s,
        interval_started_at_s=now_s,
        message=f"new candidate {new_candidate} replaced {state.candidate}; analysis restarted",
    )
    return Decision(action=Action.RESTART, state=fresh)


def _rollback(state: RolloutState, message: str, checks: list[CheckResult]) -> Decision:
    state = state.model_copy(update={"candidate_weight": 0, "mirror_percent": 0})
    return _decide(Action.ROLLBACK, state, message, checks, Phase.FAILED)


def _hold(
    state: RolloutState, message: str, checks: list[CheckResult] | None = None, phase: Phase | None = None
) -> Decision:
    return _decide(Action.HOLD, state, message, checks or [], phase)


def _decide(
    action: Action,
    state: RolloutState,
    message: str,
    checks: list[CheckResult] | None = None,
    phase: Phase | None = None,
) -> Decision:
    update: dict[str, object] = {"message": message}
    if phase is not None:
        update["phase"] = phase
    return Decision(action=action, state=state.model_copy(update=update), checks=checks or [])
