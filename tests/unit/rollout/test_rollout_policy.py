"""The rollout state machine, table-driven, with a fake clock and hand-made observations."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rollout.core.observation import Observation, VersionWindow
from rollout.core.spec import RolloutSpec, parse_spec
from rollout.core.state_machine import Action, Phase, RolloutState, Totals, abort, start, step

CANARY = parse_spec(
    {
        "strategy": "canary",
        "interval_s": 2,
        "threshold": 2,
        "step_weights": [10, 50],
        "min_requests": 10,
        "max_inconclusive": 3,
    }
)
HEALTHY = VersionWindow(requests=100, errors=0, p50_ms=5, p99_ms=20)
BROKEN = VersionWindow(requests=100, errors=40, p50_ms=5, p99_ms=20)
SPARSE = VersionWindow(requests=3, errors=0, p50_ms=5, p99_ms=20)
CHAMPION = VersionWindow(requests=900, errors=0, p50_ms=5, p99_ms=20)


def state_at(**update: object) -> RolloutState:
    """A canary of iris 2 -> 3 at step 1 (10 %), whose interval started at t=100."""
    base = start("r1", "iris", "2", "3", CANARY, now_s=90).model_copy(
        update={
            "phase": Phase.PROGRESSING,
            "step_index": 0,
            "candidate_weight": 10,
            "interval_started_at_s": 100,
        }
    )
    return base.model_copy(update=update)


def observed(candidate: VersionWindow, at_s: float = 102, window_s: float = 2, **extra: object) -> Observation:
    return Observation(collected_at_s=at_s, window_s=window_s, versions={"2": CHAMPION, "3": candidate}, **extra)


@dataclass
class Case:
    name: str
    state: RolloutState
    observation: Observation | None
    action: Action
    expect: dict = field(default_factory=dict)
    spec: RolloutSpec = CANARY


CASES = [
    Case(
        "initialized advances to the first step",
        start("r1", "iris", "2", "3", CANARY, now_s=50),
        None,
        Action.ADVANCE,
        {"phase": Phase.PROGRESSING, "step_index": 0, "candidate_weight": 10, "interval_started_at_s": 103},
    ),
    Case(
        "a passing interval advances",
        state_at(),
        observed(HEALTHY),
        Action.ADVANCE,
        {"step_index": 1, "candidate_weight": 50, "interval_started_at_s": 103, "iterations": 1},
    ),
    Case(
        "one blip holds at the same weight",
        state_at(),
        observed(BROKEN),
        Action.HOLD,
        {
            "phase": Phase.PROGRESSING,
            "candidate_weight": 10,
            "failed_checks": 1,
            "interval_started_at_s": 102,
        },
    ),
    Case(
        "threshold failed checks roll back",
        state_at(failed_checks=1),
        observed(BROKEN),
        Action.ROLLBACK,
        {"phase": Phase.FAILED, "candidate_weight": 0, "failed_checks": 2},
    ),
    Case(
        "failed checks are cumulative, as in Flagger",
        state_at(failed_checks=1, step_index=1, candidate_weight=50),
        observed(BROKEN),
        Action.ROLLBACK,
        {"phase": Phase.FAILED, "candidate_weight": 0},
    ),
    Case(
        "too little data holds and lets the window grow",
        state_at(),
        observed(SPARSE),
        Action.HOLD,
        {
            "phase": Phase.PROGRESSING,
            "inconclusive": 1,
            "candidate_weight": 10,
            "failed_checks": 0,
            "interval_started_at_s": 100,
            "candidate_totals": Totals(),
            "message": "inconclusive: 3 candidate requests (< 10) in 2.0 s, 1 interval so far",
        },
    ),
    Case(
        "a window spanning max_inconclusive intervals without enough data pauses",
        state_at(inconclusive=2),
        observed(SPARSE, at_s=106, window_s=6),
        Action.PAUSE,
        {"phase": Phase.PAUSED, "inconclusive": 3, "candidate_weight": 10, "interval_started_at_s": 100},
    ),
    Case(
        "paused and still inconclusive holds",
        state_at(phase=Phase.PAUSED, inconclusive=3),
        observed(SPARSE, at_s=108, window_s=8),
        Action.HOLD,
        {"phase": Phase.PAUSED, "inconclusive": 4},
    ),
    Case(
        "paused resumes when data returns",
        state_at(phase=Phase.PAUSED, inconclusive=3),
        observed(HEALTHY),
        Action.ADVANCE,
        {"phase": Phase.PROGRESSING, "inconclusive": 0, "candidate_weight": 50},
    ),
    Case(
        "inconclusive at the last step never promotes",
        state_at(step_index=1, candidate_weight=50),
        observed(SPARSE),
        Action.HOLD,
        {"phase": Phase.PROGRESSING, "candidate_weight": 50},
    ),
    Case(
        "no candidate traffic at all is inconclusive",
        state_at(step_index=1, candidate_weight=50),
        Observation(collected_at_s=102, window_s=2, versions={"2": CHAMPION}),
        Action.HOLD,
        {"inconclusive": 1, "candidate_weight": 50},
    ),
    Case(
        "the last passing step promotes",
        state_at(step_index=1, candidate_weight=50),
        observed(HEALTHY),
        Action.PROMOTE,
        {"phase": Phase.PROMOTING, "candidate_weight": 100},
    ),
    Case(
        "promoting finishes",
        state_at(phase=Phase.PROMOTING, candidate_weight=100),
        None,
        Action.HOLD,
        {"phase": Phase.SUCCEEDED},
    ),
    Case(
        "succeeded stays put",
        state_at(phase=Phase.SUCCEEDED),
        observed(BROKEN),
        Action.HOLD,
        {"phase": Phase.SUCCEEDED},
    ),
    Case(
        "failed stays put",
        state_at(phase=Phase.FAILED),
        observed(HEALTHY),
        Action.HOLD,
        {"phase": Phase.FAILED},
    ),
    Case(
        "an interval not over holds without analysing",
        state_at(),
        observed(BROKEN, at_s=101.5, window_s=1.5),
        Action.HOLD,
        {"failed_checks": 0, "interval_started_at_s": 100, "message": "interval not over yet"},
    ),
    Case(
        "an observation from before the weights changed holds",
        state_at(),
        observed(BROKEN, at_s=103, window_s=5),
        Action.HOLD,
        {"failed_checks": 0, "message": "observation predates the current weights; waiting for a fresh one"},
    ),
    Case(
        "a new candidate restarts the analysis",
        state_at(step_index=1, candidate_weight=50, failed_checks=1, iterations=4),
        observed(HEALTHY, candidate_version="4"),
        Action.RESTART,
        {
            "phase": Phase.INITIALIZED,
            "candidate": "4",
            "champion": "2",
            "step_index": -1,
            "candidate_weight": 0,
            "failed_checks": 0,
            "iterations": 0,
            "started_at_s": 200,
            "message": "new candidate 4 replaced 3; analysis restarted",
        },
    ),
    Case(
        "the same candidate does not restart",
        state_at(),
        observed(HEALTHY, candidate_version="3"),
        Action.ADVANCE,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_step(case: Case) -> None:
    decision = step(case.state, case.observation, case.spec, now_s=200 if "restart" in case.name else 103)
    assert decision.action is case.action, decision.reason
    for key, value in case.expect.items():
        assert getattr(decision.state, key) == value, key


def test_rollback_reason_names_the_failed_checks() -> None:
    decision = step(state_at(failed_checks=1), observed(BROKEN), CANARY, now_s=103)
    assert decision.reason.startswith("failed checks 2/2 (candidate_error_rate: 0.4 above max 0.05; ")
    assert decision.reason.endswith("); rolled back")
    assert {check.name for check in decision.checks if not check.passed} == {
        "candidate_error_rate",
        "error_rate_vs_champion",
    }


def test_weights_of_a_state() -> None:
    assert state_at().weights() == {"2": 90, "3": 10}


def test_abort() -> None:
    decision = abort(state_at(), "operator request")
    assert decision.action is Action.ROLLBACK
    assert (decision.state.phase, decision.state.candidate_weight) == (Phase.FAILED, 0)
    assert decision.reason == "aborted: operator request"
    assert abort(decision.state, "again").action is Action.HOLD


class FakeRollout:
    """Drives `step` the way the driver does: observe every poll_s, persist (as JSON) after every decision."""

    def __init__(
        self,
        spec: RolloutSpec,
        windows: list[VersionWindow],
        poll_s: float,
        champion: VersionWindow = CHAMPION,
    ) -> None:
        self.spec, self.windows, self.poll_s, self.champion = spec, windows, poll_s, champion
        self.now = 0.0
        self.window_start = 0.0
        self.state_json = start("r1", "iris", "1", "2", spec, now_s=0).model_dump_json()
        self.log: list[tuple[float, Action, int]] = []

    def run(self, polls: int) -> None:
        for _ in range(polls):
            self.poll_once()

    def poll_once(self) -> None:
        state = RolloutState.model_validate_json(self.state_json)
        if state.phase in {Phase.SUCCEEDED, Phase.FAILED}:
            return
        self.now += self.poll_s
        window = self.windows[min(len(self.log), len(self.windows) - 1)]
        versions = {"1": self.champion, "2": window}
        observation = Observation(collected_at_s=self.now, window_s=self.now - self.window_start, versions=versions)
        decision = step(state, observation, self.spec, now_s=self.now)
        if decision.action is not Action.HOLD or decision.state.interval_started_at_s != state.interval_started_at_s:
            self.window_start = self.now  # a new window starts after applying or analysing
        self.state_json = decision.state.model_dump_json()
        self.log.append((self.now, decision.action, decision.state.candidate_weight))


@pytest.mark.parametrize("poll_s", [0.25, 0.5, 1.0, 3.0])
def test_promotion_takes_at_least_interval_times_steps(poll_s: float) -> None:
    spec = parse_spec({"strategy": "canary", "interval_s": 2, "step_weights": [10, 20, 40, 80], "min_requests": 1})
    rollout = FakeRollout(spec, [HEALTHY], poll_s)
    rollout.run(200)
    promoted_at = next(t for t, action, _ in rollout.log if action is Action.PROMOTE)
    first_advance_at = next(t for t, action, _ in rollout.log if action is Action.ADVANCE)
    assert promoted_at - first_advance_at >= spec.interval_s * len(spec.schedule())
    assert [w for _, action, w in rollout.log if action is Action.ADVANCE] == [10, 20, 40, 80]
    assert RolloutState.model_validate_json(rollout.state_json).phase is Phase.SUCCEEDED


def test_resume_from_persisted_state_matches_an_uninterrupted_run() -> None:
    spec = parse_spec({"strategy": "canary", "interval_s": 2, "threshold": 3, "step_weights": [10, 30, 60]})
    windows = [HEALTHY, SPARSE, BROKEN, HEALTHY, HEALTHY, HEALTHY, HEALTHY, HEALTHY]
    uninterrupted = FakeRollout(spec, windows, poll_s=1)
    uninterrupted.run(60)

    first = FakeRollout(spec, windows, poll_s=1)
    first.run(7)
    resumed = FakeRollout(spec, windows, poll_s=1)
    resumed.state_json, resumed.now, resumed.window_start, resumed.log = (
        first.state_json,
        first.now,
        first.window_start,
        list(first.log),
    )
    resumed.run(53)
    assert resumed.log == uninterrupted.log
    assert resumed.state_json == uninterrupted.state_json
    assert [a for _, a, _ in uninterrupted.log if a is not Action.HOLD][-1] is Action.PROMOTE


def test_bluegreen_smoke_checks_at_zero_then_switches_at_once() -> None:
    spec = parse_spec({"strategy": "bluegreen", "interval_s": 1, "iterations": 3, "mirror_percent": 100})
    rollout = FakeRollout(spec, [HEALTHY], poll_s=1)
    rollout.run(20)
    changes = [(action, weight) for _, action, weight in rollout.log if action is not Action.HOLD]
    assert changes == [(Action.ADVANCE, 0), (Action.PROMOTE, 100)]
    analysed = [entry for entry in rollout.log if entry[1] is Action.HOLD]
    assert len(analysed) >= 2  # iterations 2 and 3 only move step_index


def test_bluegreen_advance_mirrors_traffic() -> None:
    spec = parse_spec({"strategy": "bluegreen", "mirror_percent": 40})
    decision = step(start("r", "iris", "1", "2", spec, 0), None, spec, now_s=0)
    assert (decision.action, decision.state.candidate_weight, decision.state.mirror_percent) == (
        Action.ADVANCE,
        0,
        40,
    )


def test_shadow_concludes_without_promoting() -> None:
    spec = parse_spec({"strategy": "shadow", "interval_s": 1, "iterations": 2, "mirror_percent": 50})
    rollout = FakeRollout(spec, [HEALTHY], poll_s=1)
    rollout.run(20)
    state = RolloutState.model_validate_json(rollout.state_json)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD] == [Action.ADVANCE, Action.CONCLUDE]
    assert (state.phase, state.candidate_weight, state.mirror_percent) == (Phase.SUCCEEDED, 0, 0)


@pytest.mark.parametrize(
    ("candidate", "last_action", "message"),
    [
        (
            VersionWindow(requests=100, errors=0, p99_ms=20, shadow_rows_compared=100, shadow_rows_agreed=97),
            Action.CONCLUDE,
            "shadow concluded after 2 steps; agreement with version 1: 97.0% (194/200 rows)",
        ),
        (
            # Mirrored requests that failed are not compared: 90 of each interval's 100 are.
            VersionWindow(requests=100, errors=10, p99_ms=20, shadow_rows_compared=90, shadow_rows_agreed=45),
            Action.ROLLBACK,
            "failed checks 2/2 (candidate_error_rate: 0.1 above max 0.05); rolled back; "
            "agreement with version 1: 50.0% (90/180 rows)",
        ),
        (
            VersionWindow(requests=100, errors=0, p99_ms=20),
            Action.CONCLUDE,
            "shadow concluded after 2 steps; agreement with version 1: no rows compared",
        ),
    ],
)
def test_a_shadow_verdict_reports_the_agreement_over_the_analysed_intervals(
    candidate: VersionWindow, last_action: Action, message: str
) -> None:
    spec = parse_spec(
        {"strategy": "shadow", "interval_s": 1, "iterations": 2, "mirror_percent": 50, "comparison": None}
    )
    rollout = FakeRollout(spec, [candidate], poll_s=1)
    rollout.run(20)
    state = RolloutState.model_validate_json(rollout.state_json)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD][-1] is last_action
    assert state.message == message
    assert (state.candidate_totals.shadow_rows_compared, state.candidate_totals.shadow_rows_agreed) == (
        2 * candidate.shadow_rows_compared,
        2 * candidate.shadow_rows_agreed,
    )


@pytest.mark.parametrize(
    ("candidate", "last_action", "message"),
    [
        (
            VersionWindow(requests=100, errors=0, p99_ms=20, shadow_rows_compared=100, shadow_rows_agreed=70),
            Action.ROLLBACK,
            "failed checks 2/2 (shadow_disagreement: 0.3 above max 0.2 (70/100 rows agreed)); rolled back; "
            "agreement with version 1: 70.0% (140/200 rows)",
        ),
        (
            VersionWindow(requests=100, errors=0, p99_ms=20, shadow_rows_compared=100, shadow_rows_agreed=80),
            Action.CONCLUDE,
            "shadow concluded after 2 steps; agreement with version 1: 80.0% (160/200 rows)",
        ),
        (
            # Too few compared rows say nothing either way: the check passes and the experiment goes on.
            VersionWindow(requests=100, errors=0, p99_ms=20, shadow_rows_compared=9, shadow_rows_agreed=0),
            Action.CONCLUDE,
            "shadow concluded after 2 steps; agreement with version 1: 0.0% (0/18 rows)",
        ),
    ],
)
def test_a_shadow_whose_mirrored_answers_disagree_too_often_is_rolled_back(
    candidate: VersionWindow, last_action: Action, message: str
) -> None:
    spec = parse_spec(
        {
            "strategy": "shadow",
            "interval_s": 1,
            "iterations": 2,
            "threshold": 2,
            "comparison": None,
            "max_shadow_disagreement": 0.2,
            "min_shadow_rows": 10,
        }
    )
    rollout = FakeRollout(spec, [candidate], poll_s=1)
    rollout.run(20)
    state = RolloutState.model_validate_json(rollout.state_json)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD][-1] is last_action
    assert state.message == message
    assert state.phase is (Phase.FAILED if last_action is Action.ROLLBACK else Phase.SUCCEEDED)


def test_a_failed_disagreement_check_is_in_the_decisions_checks() -> None:
    spec = parse_spec({"strategy": "shadow", "max_shadow_disagreement": 0.05, "min_shadow_rows": 10})
    state = state_at(strategy="shadow", candidate_weight=0, mirror_percent=50)
    window = VersionWindow(requests=100, p99_ms=20, shadow_rows_compared=100, shadow_rows_agreed=90)
    decision = step(state, observed(window), spec, now_s=102)
    [check] = [check for check in decision.checks if check.name == "shadow_disagreement"]
    assert (check.passed, check.value, check.limit) == (False, 0.1, 0.05)
    assert (decision.action, decision.state.failed_checks) == (Action.HOLD, 1)


@pytest.mark.parametrize(
    ("candidate", "promote_winner", "last_action", "message"),
    [
        (
            VersionWindow(requests=900, errors=0, p99_ms=20),
            True,
            Action.PROMOTE,
            "all 2 steps passed; candidate error rate 0/1800 vs champion 18/1800: significantly lower "
            "(one-sided z-test p=1.05e-05, alpha=0.05); promoting",
        ),
        (
            VersionWindow(requests=900, errors=0, p99_ms=20),
            False,
            Action.CONCLUDE,
            "abtest concluded after 2 steps; candidate error rate 0/1800 vs champion 18/1800: significantly lower "
            "(one-sided z-test p=1.05e-05, alpha=0.05)",
        ),
        (
            VersionWindow(requests=900, errors=9, p99_ms=20),
            True,
            Action.CONCLUDE,
            "abtest concluded after 2 steps; candidate error rate 18/1800 vs champion 18/1800: not significantly "
            "lower (one-sided z-test p=0.5, alpha=0.05)",
        ),
    ],
)
def test_abtest_promotes_only_a_significantly_better_winner_and_reports_the_test(
    candidate: VersionWindow, promote_winner: bool, last_action: Action, message: str
) -> None:
    spec = parse_spec(
        {
            "strategy": "abtest",
            "interval_s": 1,
            "duration_s": 2,
            "promote_winner": promote_winner,
            "comparison": None,
        }
    )
    # The champion errs on 1 % of its 900 requests per interval: 18 of 1800 over the test. A candidate with
    # 0 of 1800 is significantly better (p ~ 1e-5); one with the same 1 % is not.
    rollout = FakeRollout(spec, [candidate], poll_s=1, champion=VersionWindow(requests=900, errors=9, p99_ms=20))
    messages = []
    for _ in range(20):
        rollout.poll_once()
        messages.append(RolloutState.model_validate_json(rollout.state_json).message)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD][-1] is last_action
    assert [m for (_, action, _), m in zip(rollout.log, messages, strict=False) if action is last_action] == [message]


QUALITY_CANARY = parse_spec(
    {
        "strategy": "canary",
        "interval_s": 2,
        "threshold": 2,
        "step_weights": [10, 50],
        "min_requests": 10,
        "accuracy_vs_champion": {"min_labels": 30, "max_drop": 0.0, "p_value": 0.05},
    }
)
# Labels for every answer: the champion right on 96 % of its 200 labelled rows per interval.
LABELLED_CHAMPION = VersionWindow(requests=900, errors=0, p50_ms=5, p99_ms=20, labels=200, correct=192)


def answering(labels: int, correct: int) -> VersionWindow:
    """A candidate that answers every request with HTTP 200 (no 5xx, fast), `correct` of `labels` rightly."""
    return VersionWindow(requests=100, errors=0, p50_ms=5, p99_ms=20, labels=labels, correct=correct)


@pytest.mark.parametrize(
    ("candidate", "last_action", "message"),
    [
        (
            # Wrong on two thirds of its answers, every one an HTTP 200: only its accuracy gives it away.
            answering(100, 33),
            Action.ROLLBACK,
            "failed checks 2/2 (accuracy_vs_champion: candidate accuracy 0.33 below champion 0.96 by more than "
            "0.00 (p=7.57e-33 < 0.05; 100 and 200 labels)); rolled back",
        ),
        (answering(100, 96), Action.PROMOTE, "all 2 steps passed; promoting"),
        (
            # Too few labels say nothing about accuracy: the candidate is judged on its health alone.
            answering(29, 0),
            Action.PROMOTE,
            "all 2 steps passed; promoting",
        ),
    ],
)
def test_a_canary_judges_the_candidates_accuracy_against_the_champions(
    candidate: VersionWindow, last_action: Action, message: str
) -> None:
    rollout = FakeRollout(QUALITY_CANARY, [candidate], poll_s=1, champion=LABELLED_CHAMPION)
    messages = []
    for _ in range(20):
        rollout.poll_once()
        messages.append(RolloutState.model_validate_json(rollout.state_json).message)
    state = RolloutState.model_validate_json(rollout.state_json)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD][-1] is last_action
    assert [m for (_, action, _), m in zip(rollout.log, messages, strict=False) if action is last_action] == [message]
    assert (state.phase, state.candidate_weight) == (
        (Phase.FAILED, 0) if last_action is Action.ROLLBACK else (Phase.SUCCEEDED, 100)
    )


def test_an_interval_with_too_few_labels_passes_the_accuracy_check_saying_so() -> None:
    observation = Observation(collected_at_s=102, window_s=2, versions={"2": LABELLED_CHAMPION, "3": answering(29, 0)})
    decision = step(state_at(), observation, QUALITY_CANARY, now_s=103)
    [check] = [check for check in decision.checks if check.name == "accuracy_vs_champion"]
    assert (check.passed, check.value, check.reason) == (True, None, "skipped: 29 labels for the candidate (< 30)")
    assert (decision.action, decision.state.failed_checks) == (Action.ADVANCE, 0)


def test_without_monitoring_a_wrong_candidate_is_judged_on_its_health_alone() -> None:
    unavailable = "monitoring unavailable: HTTP 503: Model monitoring is not available on this gateway"
    blind = answering(0, 0).model_copy(update={"quality_unavailable": unavailable})
    rollout = FakeRollout(QUALITY_CANARY, [blind], poll_s=1, champion=LABELLED_CHAMPION)
    rollout.run(20)
    assert [a for _, a, _ in rollout.log if a is not Action.HOLD][-1] is Action.PROMOTE
    observation = Observation(collected_at_s=102, window_s=2, versions={"2": LABELLED_CHAMPION, "3": blind})
    [check] = [c for c in step(state_at(), observation, QUALITY_CANARY, now_s=103).checks if c.name.startswith("acc")]
    assert (check.passed, check.reason) == (True, unavailable)


@pytest.mark.parametrize(
    ("classes", "last_action", "message"),
    [
        (
            # Mirrored requests, all answered with one class: aborted before any user sees the candidate.
            {"0": 30, "1": 0, "2": 0, "other": 0},
            Action.ROLLBACK,
            "failed checks 1/1 (prediction_drift_vs_champion: JS distance 0.678 above max 0.2 (30 and 90 predicted "
            "rows)); rolled back",
        ),
        ({"0": 10, "1": 11, "2": 9, "other": 0}, Action.PROMOTE, "all 2 steps passed; promoting"),
    ],
)
def test_a_bluegreen_candidate_whose_mirrored_predictions_drift_never_gets_the_switch(
    classes: dict[str, int], last_action: Action, message: str
) -> None:
    spec = parse_spec(
        {
            "strategy": "bluegreen",
            "interval_s": 1,
            "iterations": 2,
            "threshold": 1,
            "prediction_drift_vs_champion": {"max_js": 0.2, "min_rows": 20},
        }
    )
    champion = VersionWindow(
        requests=90, p50_ms=5, p99_ms=20, predicted_classes={"0": 30, "1": 30, "2": 30, "other": 0}
    )
    candidate = VersionWindow(requests=30, p50_ms=5, p99_ms=20, predicted_classes=classes)
    rollout = FakeRollout(spec, [candidate], poll_s=1, champion=champion)
    messages = []
    for _ in range(20):
        rollout.poll_once()
        messages.append(RolloutState.model_validate_json(rollout.state_json).message)
    assert [(a, w) for _, a, w in rollout.log if a is not Action.HOLD] == [
        (Action.ADVANCE, 0),
        (last_action, 0 if last_action is Action.ROLLBACK else 100),
    ]
    assert [m for (_, action, _), m in zip(rollout.log, messages, strict=False) if action is last_action] == [message]
