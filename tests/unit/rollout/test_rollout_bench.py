"""The rollout benchmark's arithmetic: version weights in the gateway's policy view, the fault window in the
watcher's samples, the summary against the goal and the timeline."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("bench.bench_rollout")


def test_version_weights_from_the_policy_view(bench) -> None:
    routes = [{"version": "1", "app": "m-v1", "weight": 80}, {"version": "2", "app": "m-v2", "weight": 20}]
    view = {"policy_digest": "d", "policy": {"models": {"m": {"versions": routes, "champion": "1"}}}}
    assert bench.policy_weights(view, "m") == {"1": 80, "2": 20}
    assert bench.policy_weights(view, "other") == {}


def test_the_fault_window_runs_from_the_first_weight_above_0_to_the_next_0(bench) -> None:
    samples = [(10.0, 0), (10.1, 0), (10.3, 20), (10.4, 20), (16.9, 20), (17.4, 0), (17.5, 0)]
    window = bench.fault_window(samples)
    assert (window.onset_s, window.weight_0_s) == (10.3, 17.4)
    assert window.seconds == pytest.approx(7.1)
    assert window.resolution_s == pytest.approx(0.5)  # 16.9 -> 17.4 is the wider of the two gaps


@pytest.mark.parametrize(
    "samples",
    [[], [(1.0, 0), (2.0, 0)], [(1.0, 0), (2.0, 20), (3.0, 40)]],
    ids=["no samples", "never above 0", "never back to 0"],
)
def test_no_fault_window(bench, samples: list[tuple[float, int]]) -> None:
    assert bench.fault_window(samples) is None


def test_summary_against_the_goal(bench) -> None:
    assert bench.summarise([6.88, 9.61, 5.3]) == {
        "each_s": [6.88, 9.61, 5.3],
        "median_s": 6.88,
        "max_s": 9.61,
        "goal_s": 10.0,
        "goal_met": True,
    }
    assert bench.summarise([4.0, 10.2])["goal_met"] is False


def test_the_timeline_says_where_the_seconds_went(bench) -> None:
    from rollout.core.observation import Observation, VersionWindow
    from rollout.core.state_machine import Phase, RolloutState
    from rollout.effects import NoEffect
    from rollout.persistence.history import Progress
    from rollout.persistence.store import AppliedEvent

    def state(**update) -> RolloutState:
        base = dict(rollout_id="r", model="m", strategy="canary", champion="1", candidate="2", started_at_s=0)
        return RolloutState(**{**base, "phase": Phase.PROGRESSING, "candidate_weight": 20, **update})

    def analysed(at_s: float, errors: int, action: str) -> Progress:
        observation = Observation(
            collected_at_s=at_s, window_s=2.0, versions={"2": VersionWindow(requests=8, errors=errors)}
        )
        return Progress(at_s=at_s, action=action, state=state(interval_started_at_s=at_s), observation=observation)

    def applied(action: str, weight: int, decided_at_s: float, applied_at_s: float) -> AppliedEvent:
        return AppliedEvent(
            step_id=1, rollout_id="r", action=action, effect=NoEffect(), phase="Progressing", candidate_weight=weight,
            reason=action, decided_at_s=decided_at_s, applied_at_s=applied_at_s,
        )  # fmt: skip

    poll = Progress(  # a look before the window was over
        at_s=101.5,
        action="hold",
        state=state(interval_started_at_s=100.2),
        observation=Observation(collected_at_s=101.5, window_s=1.0),
    )
    decisions = [poll, analysed(102.7, 8, "hold"), analysed(104.7, 8, "rollback")]
    events = [applied("advance", 20, 99.6, 100.1), applied("rollback", 0, 104.7, 106.4)]
    assert bench.timeline(100.0, decisions, events, 105.9) == [
        "  -0.40 advance 20% decided",
        "   0.10 advance 20% recorded",
        "   2.70 window from 0.70: 8/8 candidate errors -> hold",
        "   4.70 rollback 0% decided",
        "   4.70 window from 2.70: 8/8 candidate errors -> rollback",
        "   5.90 gateway policy gives the candidate weight 0",
        "   6.40 rollback 0% recorded",
    ]
