"""The report's interval table: each row shows the candidate weight in force while its window ran.

The history below is what a real (not fake) clock produces: after applying an action the driver takes the
next window's first snapshot, and only then emits the action's progress record, a little later.
"""

from __future__ import annotations

from rollout.core.analysis import CheckResult, accuracy_checks, prediction_drift_check
from rollout.core.observation import Observation, VersionWindow
from rollout.core.spec import AccuracyCheck, PredictionDriftCheck
from rollout.core.state_machine import Phase, RolloutState
from rollout.effects import RouteEffect
from rollout.persistence.history import Progress
from rollout.persistence.store import AppliedEvent
from rollout.presentation.report import analysed_intervals, render_markdown, weight_at, weight_timeline

START = RolloutState(
    rollout_id="r1",
    model="iris",
    strategy="canary",
    champion="1",
    candidate="2",
    started_at_s=100.0,
    interval_started_at_s=100.0,
)
FAILED = [
    CheckResult(name="candidate_error_rate", passed=False, value=0.5, limit=0.05, reason="0.5 above max 0.05"),
    CheckResult(name="error_rate_vs_champion", passed=False, value=0.001, limit=0.01, reason="higher"),
]


def state(**update) -> RolloutState:
    return START.model_copy(update=update)


def window(candidate: tuple[int, int, float | None], champion: tuple[int, int, float | None]) -> dict:
    return {
        "2": VersionWindow(requests=candidate[0], errors=candidate[1], p50_ms=candidate[2], p99_ms=candidate[2]),
        "1": VersionWindow(requests=champion[0], errors=champion[1], p50_ms=champion[2], p99_ms=champion[2]),
    }


def observed(collected_at_s: float, window_s: float, versions: dict) -> Observation:
    return Observation(collected_at_s=collected_at_s, window_s=window_s, versions=versions)


def event(step_id: int, action: str, applied_at_s: float, weight: int, error: str | None = None) -> AppliedEvent:
    return AppliedEvent(
        step_id=step_id,
        rollout_id="r1",
        action=action,
        effect=RouteEffect(weights={"1": 100 - weight, "2": weight}, champion="1"),
        phase="Progressing",
        candidate_weight=weight,
        reason=action,
        decided_at_s=applied_at_s - 0.5,
        applied_at_s=applied_at_s,
        error=error,
    )


PROGRESSING = {"phase": Phase.PROGRESSING}
HISTORY = [
    Progress(at_s=100.0, action="start", state=START),
    Progress(at_s=100.6, action="deploy_candidate", state=START),
    # advance to 20 %: applied at 101.0, the window opens at 101.2, the record follows at 101.25
    Progress(
        at_s=101.25, action="advance", state=state(candidate_weight=20, interval_started_at_s=100.6, **PROGRESSING)
    ),
    # a poll before the interval is over: not analysed
    Progress(
        at_s=102.3,
        action="hold",
        state=state(candidate_weight=20, interval_started_at_s=100.6, **PROGRESSING),
        observation=observed(102.3, 1.1, window((3, 0, 9.5), (13, 0, 8.0))),
    ),
    # the 20 % window [101.2, 103.2] passes: advance to 40 %, applied at 103.7, next window opens at 103.9
    Progress(
        at_s=103.95,
        action="advance",
        state=state(candidate_weight=40, interval_started_at_s=103.2, **PROGRESSING),
        observation=observed(103.2, 2.0, window((6, 0, 9.5), (24, 0, 8.0))),
    ),
    # the 40 % window [103.9, 105.9] fails once: hold, the next window opens at once
    Progress(
        at_s=105.95,
        action="hold",
        state=state(candidate_weight=40, interval_started_at_s=105.9, failed_checks=1, **PROGRESSING),
        observation=observed(105.9, 2.0, window((12, 6, 7.0), (18, 0, 8.0))),
        checks=FAILED,
    ),
    # the next 40 % window [105.9, 107.9] fails again: roll back, applied at 108.4
    Progress(
        at_s=108.6,
        action="rollback",
        state=state(candidate_weight=0, interval_started_at_s=107.9, failed_checks=2, phase=Phase.FAILED),
        observation=observed(107.9, 2.0, window((12, 12, None), (18, 0, 8.0))),
        checks=FAILED,
    ),
]
EVENTS = [
    event(1, "deploy_candidate", 100.5, 0),
    event(2, "advance", 101.0, 20),
    event(3, "advance", 103.7, 40),
    event(4, "rollback", 108.4, 0),
]


def test_each_interval_shows_the_weight_in_force_during_its_window() -> None:
    intervals = analysed_intervals(HISTORY, EVENTS)
    # Read from the progress records (stamped after the window they opened) these were 0, 20, 40.
    assert [(round(interval.t_s, 1), interval.candidate_weight) for interval in intervals] == [
        (3.2, 20),
        (5.9, 40),
        (7.9, 40),
    ]


def test_the_markdown_interval_rows() -> None:
    markdown = render_markdown(HISTORY, EVENTS, "iris-r1.png")
    rows = markdown.split("## Intervals analysed\n\n")[1].splitlines()
    assert rows == [
        "| t (s) | weight | candidate req/s | candidate errors | candidate p99 ms | champion req/s | "
        "champion errors | champion p99 ms | failed checks |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| 3.2 | 20% | 3.0 | 0/6 | 9.5 | 12.0 | 0/24 | 8.0 | - |",
        "| 5.9 | 40% | 6.0 | 6/12 | 7.0 | 9.0 | 0/18 | 8.0 | candidate_error_rate, error_rate_vs_champion |",
        "| 7.9 | 40% | 6.0 | 12/12 | - | 9.0 | 0/18 | 8.0 | candidate_error_rate, error_rate_vs_champion |",
    ]


def test_a_step_that_failed_to_apply_changes_no_weight() -> None:
    timeline = weight_timeline([event(1, "advance", 10.0, 20), event(2, "advance", 12.0, 40, error="Serve down")])
    assert timeline == [(10.0, 20)]
    assert [weight_at(timeline, at_s) for at_s in (9.9, 10.0, 13.0)] == [0, 20, 20]


def shadow_state(**update) -> RolloutState:
    return START.model_copy(update={"strategy": "shadow", "mirror_percent": 50, **PROGRESSING, **update})


def mirrored(requests: int, compared: int, agreed: int) -> dict:
    return {
        "2": VersionWindow(
            requests=requests, p50_ms=6.0, p99_ms=9.0, shadow_rows_compared=compared, shadow_rows_agreed=agreed
        ),
        "1": VersionWindow(requests=2 * requests, p50_ms=5.0, p99_ms=8.0),
    }


SHADOW_HISTORY = [
    Progress(at_s=100.0, action="start", state=START.model_copy(update={"strategy": "shadow"})),
    Progress(at_s=101.25, action="advance", state=shadow_state(interval_started_at_s=100.6)),
    Progress(
        at_s=103.25,
        action="hold",
        state=shadow_state(step_index=1, interval_started_at_s=103.2),
        observation=observed(103.2, 2.0, mirrored(20, 20, 19)),
    ),
    Progress(
        at_s=105.7,
        action="conclude",
        state=shadow_state(
            phase=Phase.SUCCEEDED,
            mirror_percent=0,
            interval_started_at_s=105.2,
            message="shadow concluded after 2 steps; agreement with version 1: 87.5% (35/40 rows)",
        ),
        observation=observed(105.2, 2.0, mirrored(20, 20, 16)),
    ),
]


def test_a_shadow_report_gives_the_agreement_per_interval_and_overall() -> None:
    events = [event(1, "deploy_candidate", 100.5, 0), event(2, "advance", 101.0, 0), event(3, "conclude", 105.6, 0)]
    markdown = render_markdown(SHADOW_HISTORY, events, "iris-r1.png")
    assert (
        "**Verdict: succeeded** - shadow concluded after 2 steps; agreement with version 1: 87.5% (35/40 rows)\n"
        in (markdown)
    )
    overall, table = markdown.split("## Intervals analysed\n\n")
    assert overall.endswith("\n\nShadow agreement with version 1: 87.5% (35/40 rows).\n\n")
    assert table.splitlines() == [
        "| t (s) | weight | candidate req/s | candidate errors | candidate p99 ms | champion req/s | "
        "champion errors | champion p99 ms | agreement | failed checks |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| 3.2 | 0% | 10.0 | 0/20 | 9.0 | 20.0 | 0/40 | 8.0 | 95.0% (19/20) | - |",
        "| 5.2 | 0% | 10.0 | 0/20 | 9.0 | 20.0 | 0/40 | 8.0 | 80.0% (16/20) | - |",
    ]


def disagreement_check(passed: bool, value: float | None, reason: str) -> list[CheckResult]:
    return [CheckResult(name="shadow_disagreement", passed=passed, value=value, limit=0.1, reason=reason)]


def test_a_shadow_report_shows_the_disagreement_check_per_interval_and_how_it_went() -> None:
    first, second = SHADOW_HISTORY[2], SHADOW_HISTORY[3]
    history = [
        *SHADOW_HISTORY[:2],
        first.model_copy(update={"checks": disagreement_check(True, 0.05, "0.05 within max 0.1 (19/20 rows agreed)")}),
        second.model_copy(update={"checks": disagreement_check(False, 0.2, "0.2 above max 0.1 (16/20 rows agreed)")}),
    ]
    events = [event(1, "deploy_candidate", 100.5, 0), event(2, "advance", 101.0, 0), event(3, "conclude", 105.6, 0)]
    overall, table = render_markdown(history, events, "iris-r1.png").split("## Intervals analysed\n\n")
    assert overall.endswith(
        "\n\nShadow agreement with version 1: 87.5% (35/40 rows).\n\n"
        "Shadow disagreement check (max 0.1 per interval): failed in 1 of 2 intervals, "
        "inconclusive (too few rows) in 0.\n\n"
    )
    assert table.splitlines() == [
        "| t (s) | weight | candidate req/s | candidate errors | candidate p99 ms | champion req/s | "
        "champion errors | champion p99 ms | agreement | disagreement | failed checks |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| 3.2 | 0% | 10.0 | 0/20 | 9.0 | 20.0 | 0/40 | 8.0 | 95.0% (19/20) | 5.0% (max 10.0%) | - |",
        "| 5.2 | 0% | 10.0 | 0/20 | 9.0 | 20.0 | 0/40 | 8.0 | 80.0% (16/20) | 20.0% (max 10.0%) | "
        "shadow_disagreement |",
    ]


def test_an_inconclusive_disagreement_check_says_too_few_rows() -> None:
    skipped = disagreement_check(True, None, "skipped: 3 mirrored rows compared (< 20)")
    history = [*SHADOW_HISTORY[:2], SHADOW_HISTORY[2].model_copy(update={"checks": skipped})]
    events = [event(1, "deploy_candidate", 100.5, 0), event(2, "advance", 101.0, 0)]
    markdown = render_markdown(history, events, "iris-r1.png")
    assert "failed in 0 of 1 intervals, inconclusive (too few rows) in 1.\n" in markdown
    assert markdown.splitlines()[-1] == (
        "| 3.2 | 0% | 10.0 | 0/20 | 9.0 | 20.0 | 0/40 | 8.0 | 95.0% (19/20) | too few rows | - |"
    )


UNAVAILABLE = "monitoring unavailable: HTTP 503: Model monitoring is not available on this gateway"
ACCURACY = AccuracyCheck(min_labels=10, min_accuracy=0.9)


def labelled(requests: int, labels: int, correct: int, **update) -> VersionWindow:
    return VersionWindow(requests=requests, p50_ms=8.0, p99_ms=8.0, labels=labels, correct=correct, **update)


def judged(at_s: float, candidate: VersionWindow, champion: VersionWindow) -> Progress:
    """An analysed canary interval ending at `at_s`, with the accuracy checks the core computes for it."""
    return Progress(
        at_s=at_s + 0.05,
        action="hold",
        state=state(candidate_weight=20, interval_started_at_s=at_s, **PROGRESSING),
        observation=observed(at_s, 2.0, {"2": candidate, "1": champion}),
        checks=accuracy_checks(ACCURACY, candidate, champion),
    )


ACCURACY_HISTORY = [
    *HISTORY[:3],
    judged(103.2, labelled(6, 6, 6), labelled(24, 24, 23)),  # too few labels for the candidate
    judged(105.2, labelled(12, 12, 4), labelled(18, 18, 17)),  # wrong with HTTP 200
    judged(107.2, *(labelled(n, 0, 0, quality_unavailable=UNAVAILABLE) for n in (12, 18))),  # monitoring down
]


def test_a_report_shows_the_accuracy_checks_per_interval_and_how_they_went() -> None:
    assert [check.reason for check in ACCURACY_HISTORY[4].checks] == [
        "candidate accuracy 0.33 below champion 0.94 by more than 0.00 (p=0.000173 < 0.05; 12 and 18 labels)",
        "0.3333 below min 0.9 (4/12 labels correct)",
    ]
    overall, table = render_markdown(ACCURACY_HISTORY, EVENTS[:2], "iris-r1.png").split("## Intervals analysed\n\n")
    assert overall.endswith(
        "\n\nAccuracy check against the champion (max drop 0.00 per interval): failed in 1 of 3 intervals, "
        "inconclusive in 2 (monitoring unavailable in 1). Over the analysed intervals: candidate 55.6% "
        "(10/18 labels), champion 95.2% (40/42 labels).\n\n"
        "Minimum accuracy check (min 0.9 per interval): failed in 1 of 3 intervals, inconclusive in 2 "
        "(monitoring unavailable in 1).\n\n"
    )
    assert table.splitlines() == [
        "| t (s) | weight | candidate req/s | candidate errors | candidate p99 ms | champion req/s | "
        "champion errors | champion p99 ms | candidate accuracy | champion accuracy | failed checks |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| 3.2 | 20% | 3.0 | 0/6 | 8.0 | 12.0 | 0/24 | 8.0 | 100.0% (6/6) | 95.8% (23/24) | - |",
        "| 5.2 | 20% | 6.0 | 0/12 | 8.0 | 9.0 | 0/18 | 8.0 | 33.3% (4/12) | 94.4% (17/18) | "
        "accuracy_vs_champion, candidate_accuracy |",
        "| 7.2 | 20% | 6.0 | 0/12 | 8.0 | 9.0 | 0/18 | 8.0 | unavailable | unavailable | - |",
    ]


def test_a_report_without_quality_checks_has_no_quality_columns_or_summary() -> None:
    markdown = render_markdown(HISTORY, EVENTS, "iris-r1.png")
    assert "accuracy" not in markdown and "JS" not in markdown


DRIFT = PredictionDriftCheck(max_js=0.2, min_rows=10)


def drifting(at_s: float, candidate: dict[str, int] | None, champion: dict[str, int] | None, **update) -> Progress:
    """An analysed shadow interval ending at `at_s`, with the prediction drift check the core computes for it."""
    versions = mirrored(20, 20, 19)
    versions = {
        "2": versions["2"].model_copy(update={"predicted_classes": candidate, **update}),
        "1": versions["1"].model_copy(update={"predicted_classes": champion, **update}),
    }
    observation = observed(at_s, 2.0, versions)
    return Progress(
        at_s=at_s + 0.05,
        action="hold",
        state=shadow_state(interval_started_at_s=at_s),
        observation=observation,
        checks=[prediction_drift_check(DRIFT, observation.window("2"), observation.window("1"))],
    )


def test_a_shadow_report_shows_the_prediction_drift_check_per_interval_and_how_it_went() -> None:
    history = [
        *SHADOW_HISTORY[:2],
        drifting(103.2, {"0": 20, "1": 0}, {"0": 20, "1": 20}),  # one class for everything
        drifting(105.2, {"0": 10, "1": 10}, {"0": 21, "1": 19}),
        drifting(107.2, {"0": 3}, {"0": 20, "1": 20}),  # too few rows
        drifting(109.2, None, {"0": 20, "1": 20}),  # no profile with classes
        drifting(111.2, None, None, quality_unavailable=UNAVAILABLE),
    ]
    assert history[2].checks[0].reason == "JS distance 0.558 above max 0.2 (20 and 40 predicted rows)"
    events = [event(1, "deploy_candidate", 100.5, 0), event(2, "advance", 101.0, 0)]
    overall, table = render_markdown(history, events, "iris-r1.png").split("## Intervals analysed\n\n")
    assert overall.endswith(
        "\n\nShadow agreement with version 1: 95.0% (95/100 rows).\n\n"
        "Prediction drift check against the champion (max JS distance 0.2 per interval): failed in 1 of 5 "
        "intervals, inconclusive in 3 (monitoring unavailable in 1). Over the analysed intervals: JS distance "
        "0.233 (43 and 160 predicted rows).\n\n"
    )
    assert table.splitlines()[0].endswith("| champion p99 ms | agreement | prediction JS | failed checks |")
    assert [row.split(" | ")[-2:] for row in table.splitlines()[2:]] == [
        ["0.558 (max 0.2)", "prediction_drift_vs_champion |"],
        ["0.021 (max 0.2)", "- |"],
        ["too few rows", "- |"],
        ["no classes", "- |"],
        ["unavailable", "- |"],
    ]
