"""Rollout statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from deployments.histogram import Histogram
from rollout.core.analysis import (
    accuracy,
    describe_accuracy,
    disagreement,
    error_rate,
    evaluate_checks,
    is_conclusive,
    prediction_js,
    two_proportion_z_test,
    window_between,
)
from rollout.core.observation import VersionCounters, VersionWindow
from rollout.core.spec import AnalysisSpec, ComparisonSpec, MetricCheck, MetricName, parse_spec


def latency(bounds: list[float], counts: list[int]) -> Histogram:
    return Histogram(bounds=bounds, counts=counts, count=sum(counts))


LATENCY = latency([10, 20, 50], [50, 40, 10, 0])


def test_error_rate() -> None:
    assert error_rate(200, 3) == 0.015
    assert error_rate(0, 0) is None


def test_window_between_snapshots() -> None:
    before = VersionCounters(requests=100, errors=1, latency_ms=LATENCY)
    after = VersionCounters(requests=200, errors=4, latency_ms=latency([10, 20, 50], [100, 40, 60, 0]))
    window = window_between(before, after)
    assert (window.requests, window.errors) == (100, 3)
    assert window.p50_ms == pytest.approx(10.0)  # 50 of the new 100 were <= 10 ms
    assert window.p99_ms == pytest.approx(20 + 30 * (99 - 50) / 50)  # none of the new ones in (10, 20]


def test_window_after_counter_reset_counts_from_zero() -> None:
    before = VersionCounters(requests=500, errors=9)
    after = VersionCounters(requests=20, errors=2, latency_ms=latency([5], [20, 0]))
    window = window_between(before, after)
    assert (window.requests, window.errors) == (20, 2)
    assert window.p99_ms == pytest.approx(5 * 0.99)


def test_latency_quantiles_count_the_overflow_bucket() -> None:
    # 100 timed requests, 90 within 10 ms and 10 above every bound: p99 is reported at the last bound.
    after = VersionCounters(requests=110, errors=10, latency_ms=latency([10], [90, 10]))
    window = window_between(None, after)
    assert window.p50_ms == pytest.approx(10 * 50 / 90)
    assert window.p99_ms == 10


def test_a_window_counts_only_routed_requests_and_their_5xx() -> None:
    before = VersionCounters(requests=100, errors=5, pinned_requests=40, pinned_errors=4)
    # 60 more routed requests with 1 more 5xx, and 500 more pinned ones, all 5xx: a client hammering the candidate.
    after = VersionCounters(requests=660, errors=506, pinned_requests=540, pinned_errors=504)
    assert (after.routed_requests, after.routed_errors) == (120, 2)
    window = window_between(before, after)
    assert (window.requests, window.errors) == (60, 1)
    # Pinned successes cannot hide failures either: 20 routed requests, 10 of them 5xx, next to 100 pinned ones.
    hidden = window_between(before, VersionCounters(requests=220, errors=15, pinned_requests=140, pinned_errors=4))
    assert (hidden.requests, hidden.errors, error_rate(hidden.requests, hidden.errors)) == (20, 10, 0.5)


def test_a_pinned_counter_that_went_down_resets_the_window() -> None:
    before = VersionCounters(requests=100, errors=5, pinned_requests=40, pinned_errors=4)
    restarted = VersionCounters(requests=100, errors=5, pinned_requests=10, pinned_errors=0)
    window = window_between(before, restarted)
    assert (window.requests, window.errors) == (90, 5)


def test_window_without_previous_snapshot() -> None:
    window = window_between(None, VersionCounters(requests=7, errors=0))
    assert (window.requests, window.errors, window.p99_ms) == (7, 0, None)


def test_z_test_known_value() -> None:
    # p1 = 0.10, p2 = 0.05, pooled 0.075: z = 0.05 / sqrt(0.075 * 0.925 * (2 / 100)) = 1.3423
    test = two_proportion_z_test(10, 100, 5, 100)
    assert test.z == pytest.approx(1.342312, abs=1e-6)
    assert test.p_value == pytest.approx(0.089747, abs=1e-6)


def test_z_test_is_one_sided() -> None:
    assert two_proportion_z_test(5, 100, 10, 100).p_value == pytest.approx(1 - 0.089747, abs=1e-6)


def test_z_test_without_variance() -> None:
    test = two_proportion_z_test(0, 50, 0, 500)
    assert (test.z, test.p_value) == (0.0, 1.0)


def test_z_test_needs_trials() -> None:
    with pytest.raises(ValueError, match="both samples need at least one trial"):
        two_proportion_z_test(0, 0, 1, 10)


SPEC = AnalysisSpec(
    min_requests=10,
    metrics=[
        MetricCheck(name=MetricName.CANDIDATE_ERROR_RATE, max=0.05),
        MetricCheck(name=MetricName.CANDIDATE_P99_LATENCY_MS, min=1, max=200),
    ],
    comparison=ComparisonSpec(error_rate_significance=0.01, max_p99_latency_ratio=2.0, latency_ratio_floor_ms=50),
)
CHAMPION = VersionWindow(requests=1000, errors=2, p50_ms=5, p99_ms=50)


def by_name(results: list) -> dict:
    return {result.name: result for result in results}


def test_healthy_candidate_passes_every_check() -> None:
    results = evaluate_checks(SPEC, VersionWindow(requests=100, errors=0, p50_ms=5, p99_ms=60), CHAMPION)
    assert [r.name for r in results] == [
        "candidate_error_rate",
        "candidate_p99_latency_ms",
        "error_rate_vs_champion",
        "p99_latency_ratio_vs_champion",
    ]
    assert all(r.passed for r in results)
    assert by_name(results)["p99_latency_ratio_vs_champion"].value == pytest.approx(1.2)


def test_failing_candidate() -> None:
    results = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, errors=30, p50_ms=5, p99_ms=250), CHAMPION))
    rate = results["candidate_error_rate"]
    assert (rate.passed, rate.value, rate.limit, rate.reason) == (False, 0.3, 0.05, "0.3 above max 0.05")
    latency = results["candidate_p99_latency_ms"]
    assert (latency.passed, latency.reason) == (False, "250 above max 200")
    versus = results["error_rate_vs_champion"]
    assert not versus.passed
    assert versus.value < 1e-10
    ratio = results["p99_latency_ratio_vs_champion"]
    assert (ratio.passed, ratio.reason) == (False, "candidate p99 is 5.00x the champion's (above 2x)")


def test_min_bound() -> None:
    result = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, p99_ms=0.5), CHAMPION))[
        "candidate_p99_latency_ms"
    ]
    assert (result.passed, result.limit, result.reason) == (False, 1, "0.5 below min 1")


def test_comparison_skipped_without_champion_traffic() -> None:
    results = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, errors=1, p99_ms=60), VersionWindow()))
    assert results["error_rate_vs_champion"].passed
    assert results["error_rate_vs_champion"].reason == "skipped: champion had 0 requests (< 10)"
    assert results["p99_latency_ratio_vs_champion"].reason == "skipped: champion had 0 requests (< 10)"


def test_latency_ratio_needs_both_p99s() -> None:
    no_p99 = VersionWindow(requests=100, errors=0)
    result = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, p99_ms=60), no_p99))
    assert result["p99_latency_ratio_vs_champion"].reason == (
        "skipped: p99 latency missing for the candidate or the champion"
    )


def test_small_error_rate_difference_is_not_significant() -> None:
    # 2/100 against 2/1000: p ~ 0.0016 < 0.01 fails; 1/100 against 2/1000: p ~ 0.05 passes.
    worse = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, errors=2, p99_ms=50), CHAMPION))
    similar = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, errors=1, p99_ms=50), CHAMPION))
    assert not worse["error_rate_vs_champion"].passed
    assert similar["error_rate_vs_champion"].passed
    assert math.isclose(similar["error_rate_vs_champion"].limit, 0.01)


def test_latency_ratio_is_not_checked_below_its_floor() -> None:
    fast_champion = VersionWindow(requests=1000, errors=0, p99_ms=2)
    result = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, p99_ms=9), fast_champion))
    ratio = result["p99_latency_ratio_vs_champion"]
    assert (ratio.passed, ratio.reason) == (True, "skipped: candidate p99 9 ms is below the 50 ms floor")
    slow = by_name(evaluate_checks(SPEC, VersionWindow(requests=100, p99_ms=120), fast_champion))
    assert not slow["p99_latency_ratio_vs_champion"].passed


def test_conclusive_needs_min_requests() -> None:
    assert not is_conclusive(SPEC, VersionWindow(requests=9))
    assert is_conclusive(SPEC, VersionWindow(requests=10))


SHADOW = parse_spec(
    {
        "strategy": "shadow",
        "min_requests": 10,
        "metrics": [],
        "comparison": None,
        "max_shadow_disagreement": 0.1,
        "min_shadow_rows": 50,
    }
)


def mirrored(compared: int, agreed: int) -> VersionWindow:
    return VersionWindow(requests=100, p99_ms=5, shadow_rows_compared=compared, shadow_rows_agreed=agreed)


def test_disagreement() -> None:
    assert disagreement(100, 70) == 0.3  # exact: 1 - 0.7 would be 0.30000000000000004
    assert disagreement(0, 0) is None


@pytest.mark.parametrize(
    ("compared", "agreed", "passed", "value", "reason"),
    [
        (200, 170, False, 0.15, "0.15 above max 0.1 (170/200 rows agreed)"),
        (200, 180, True, 0.1, "0.1 within max 0.1 (180/200 rows agreed)"),
        (50, 50, True, 0.0, "0 within max 0.1 (50/50 rows agreed)"),
        (49, 0, True, None, "skipped: 49 mirrored rows compared (< 50)"),
    ],
)
def test_shadow_disagreement_check(compared: int, agreed: int, passed: bool, value, reason: str) -> None:
    [result] = evaluate_checks(SHADOW, mirrored(compared, agreed), CHAMPION)
    assert (result.name, result.passed, result.value, result.limit, result.reason) == (
        "shadow_disagreement",
        passed,
        value,
        0.1,
        reason,
    )


def test_shadow_disagreement_is_checked_last_and_only_when_bounded() -> None:
    bounded = parse_spec({"strategy": "bluegreen", "max_shadow_disagreement": 0.2, "min_shadow_rows": 1})
    names = [result.name for result in evaluate_checks(bounded, mirrored(10, 10), CHAMPION)]
    assert names == [
        "candidate_error_rate",
        "candidate_p99_latency_ms",
        "error_rate_vs_champion",
        "p99_latency_ratio_vs_champion",
        "shadow_disagreement",
    ]
    unbounded = parse_spec({"strategy": "shadow"})
    assert "shadow_disagreement" not in [r.name for r in evaluate_checks(unbounded, mirrored(10, 0), CHAMPION)]


def quality(
    labels: int | None, correct: int | None, classes: dict[str, int] | None = None, requests: int = 0
) -> VersionCounters:
    return VersionCounters(
        requests=requests,
        errors=0,
        labels=labels,
        correct=correct,
        predicted_classes=classes,
    )


def test_a_window_counts_the_labels_correct_rows_and_predicted_classes_between_two_snapshots() -> None:
    before = quality(100, 90, {"0": 50, "1": 40, "other": 0}, requests=300)
    after = quality(160, 140, {"0": 80, "1": 60, "other": 5}, requests=400)
    window = window_between(before, after)
    assert (window.requests, window.labels, window.correct) == (100, 60, 50)
    assert window.predicted_classes == {"0": 30, "1": 20, "other": 5}
    assert (window.predicted_rows, window.quality_unavailable) == (55, None)
    # A version first seen in this window counts everything it has.
    first = window_between(None, after)
    assert (first.labels, first.correct, first.predicted_classes) == (160, 140, {"0": 80, "1": 60, "other": 5})


def test_a_monitor_restart_resets_the_quality_counters_alone() -> None:
    before = quality(100, 90, {"0": 50, "1": 40}, requests=300)
    # The monitor restarted (its counters start from zero); the gateway's went on.
    restarted = window_between(before, quality(12, 11, {"0": 7, "1": 9}, requests=330))
    assert (restarted.requests, restarted.labels, restarted.correct) == (30, 12, 11)
    assert restarted.predicted_classes == {"0": 7, "1": 9}
    # A class count that went down is a restart too, even while the labels did not.
    classes_down = window_between(before, quality(100, 90, {"0": 3, "1": 41}, requests=330))
    assert (classes_down.labels, classes_down.correct, classes_down.predicted_classes) == (100, 90, {"0": 3, "1": 41})
    # The gateway restarted and the monitor did not: the requests count from zero, the labels from before.
    gateway_restart = window_between(before, quality(130, 115, {"0": 60, "1": 50}, requests=20))
    assert (gateway_restart.requests, gateway_restart.labels, gateway_restart.correct) == (20, 30, 25)
    assert gateway_restart.predicted_classes == {"0": 10, "1": 10}


def test_classes_counted_only_since_the_profile_arrived_start_from_zero() -> None:
    window = window_between(quality(10, 9, None), quality(30, 27, {"0": 12, "other": 1}))
    assert (window.labels, window.correct, window.predicted_classes) == (20, 18, {"0": 12, "other": 1})
    lost = window_between(quality(10, 9, {"0": 12}), quality(30, 27, None))
    assert (lost.labels, lost.predicted_classes, lost.predicted_rows) == (20, None, 0)


def test_without_quality_counters_at_either_end_the_window_says_why() -> None:
    known = quality(10, 9, {"0": 12})
    for before, after in ((known, quality(None, None)), (quality(None, None), known)):
        window = window_between(before, after)
        assert (window.labels, window.correct, window.predicted_classes) == (0, 0, None)
        assert window.quality_unavailable == "monitoring unavailable: no quality counters in the stats"
    told = window_between(known, quality(None, None), "HTTP 503: Model monitoring is not available on this gateway")
    assert told.quality_unavailable == (
        "monitoring unavailable: HTTP 503: Model monitoring is not available on this gateway"
    )


def test_accuracy_and_the_js_distance_of_predicted_classes() -> None:
    assert (accuracy(120, 114), accuracy(0, 0)) == (0.95, None)
    assert (describe_accuracy(120, 114), describe_accuracy(0, 0)) == ("95.0% (114/120 labels)", "no labels")
    assert prediction_js({"0": 10, "1": 10}, {"0": 20, "1": 20}) == 0.0
    # Disjoint classes are as far apart as distributions go; a class one side never predicted counts 0 for it.
    assert prediction_js({"0": 10}, {"1": 5}) == pytest.approx(1.0)
    assert prediction_js({"0": 10, "1": 10}, {"0": 20}) == prediction_js({"0": 10, "1": 10}, {"0": 20, "1": 0})


def labelled(labels: int, correct: int, **update) -> VersionWindow:
    return VersionWindow(requests=labels, p99_ms=5, labels=labels, correct=correct, **update)


QUALITY_CANARY = parse_spec(
    {
        "strategy": "canary",
        "step_weights": [50],
        "metrics": [],
        "comparison": None,
        "accuracy_vs_champion": {"min_labels": 30, "max_drop": 0.0, "p_value": 0.05, "min_accuracy": 0.9},
    }
)
LABELLED_CHAMPION = labelled(118, 113)
UNAVAILABLE = "monitoring unavailable: HTTP 503: Model monitoring is not available on this gateway"


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "value", "reason"),
    [
        (
            labelled(120, 37),
            LABELLED_CHAMPION,
            False,
            113 / 118 - 37 / 120,
            "candidate accuracy 0.31 below champion 0.96 by more than 0.00 (p=1.62e-25 < 0.05; 120 and 118 labels)",
        ),
        (
            # Below the champion, but within chance at these sample sizes.
            labelled(120, 110),
            LABELLED_CHAMPION,
            True,
            113 / 118 - 110 / 120,
            "candidate accuracy 0.92 below champion 0.96 by more than 0.00, not significantly "
            "(p=0.0968 >= 0.05; 120 and 118 labels)",
        ),
        (
            labelled(118, 113),
            LABELLED_CHAMPION,
            True,
            0.0,
            "candidate accuracy 0.96 not below champion 0.96 by more than 0.00 (p=0.5; 118 and 118 labels)",
        ),
        (labelled(29, 0), LABELLED_CHAMPION, True, None, "skipped: 29 labels for the candidate (< 30)"),
        (labelled(120, 37), labelled(12, 12), True, None, "skipped: 12 labels for the champion (< 30)"),
        (labelled(0, 0, quality_unavailable=UNAVAILABLE), VersionWindow(), True, None, UNAVAILABLE),
        (labelled(120, 37), VersionWindow(quality_unavailable=UNAVAILABLE), True, None, UNAVAILABLE),
    ],
)
def test_accuracy_vs_champion(
    candidate: VersionWindow, champion: VersionWindow, passed: bool, value: float | None, reason: str
) -> None:
    result = by_name(evaluate_checks(QUALITY_CANARY, candidate, champion))["accuracy_vs_champion"]
    assert (result.passed, result.limit, result.reason) == (passed, 0.0, reason)
    assert result.value == (None if value is None else pytest.approx(value))


def test_a_drop_within_max_drop_passes_however_significant() -> None:
    spec = parse_spec(
        {"strategy": "abtest", "metrics": [], "comparison": None, "accuracy_vs_champion": {"max_drop": 0.05}}
    )
    # 0.90 - 0.85 is 0.05000000000000004 in floats: not a drop beyond 0.05.
    [exactly] = evaluate_checks(spec, labelled(4000, 3400), labelled(4000, 3600))
    assert (exactly.passed, exactly.reason) == (
        True,
        "candidate accuracy 0.85 not below champion 0.90 by more than 0.05 (p=6.84e-12; 4000 and 4000 labels)",
    )
    [beyond] = evaluate_checks(spec, labelled(4000, 3396), labelled(4000, 3600))
    assert (beyond.passed, beyond.reason) == (
        False,
        "candidate accuracy 0.85 below champion 0.90 by more than 0.05 (p=2.9e-12 < 0.05; 4000 and 4000 labels)",
    )


@pytest.mark.parametrize(
    ("candidate", "passed", "value", "reason"),
    [
        (labelled(120, 37), False, 37 / 120, "0.3083 below min 0.9 (37/120 labels correct)"),
        (labelled(40, 36), True, 0.9, "0.9 at or above min 0.9 (36/40 labels correct)"),
        (labelled(12, 12), True, None, "skipped: 12 labels for the candidate (< 30)"),
        (labelled(0, 0, quality_unavailable=UNAVAILABLE), True, None, UNAVAILABLE),
    ],
)
def test_candidate_accuracy_floor(candidate: VersionWindow, passed: bool, value: float | None, reason: str) -> None:
    # The floor needs the candidate's labels only: the champion here has none.
    result = by_name(evaluate_checks(QUALITY_CANARY, candidate, VersionWindow()))["candidate_accuracy"]
    assert (result.passed, result.value, result.limit, result.reason) == (passed, value, 0.9, reason)


def predicted(classes: dict[str, int] | None, **update) -> VersionWindow:
    return VersionWindow(requests=100, p99_ms=5, predicted_classes=classes, **update)


DRIFT_SHADOW = parse_spec(
    {
        "strategy": "shadow",
        "metrics": [],
        "comparison": None,
        "prediction_drift_vs_champion": {"max_js": 0.2, "min_rows": 50},
    }
)
BALANCED_CHAMPION = predicted({"0": 40, "1": 39, "2": 39, "other": 0})


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "reason"),
    [
        (
            # A candidate that answers one class to everything.
            predicted({"0": 120, "1": 0, "2": 0, "other": 0}),
            BALANCED_CHAMPION,
            False,
            "JS distance 0.673 above max 0.2 (120 and 118 predicted rows)",
        ),
        (
            predicted({"0": 38, "1": 42, "2": 40, "other": 0}),
            BALANCED_CHAMPION,
            True,
            "JS distance 0.0219 within max 0.2 (120 and 118 predicted rows)",
        ),
        (
            predicted({"0": 49, "other": 0}),
            BALANCED_CHAMPION,
            True,
            "skipped: 49 predicted rows for the candidate (< 50)",
        ),
        (predicted({"0": 120}), predicted({"0": 20}), True, "skipped: 20 predicted rows for the champion (< 50)"),
        (
            predicted(None),
            BALANCED_CHAMPION,
            True,
            "skipped: no predicted classes for the candidate (no profile with classes)",
        ),
        (
            predicted({"0": 120}),
            predicted(None),
            True,
            "skipped: no predicted classes for the champion (no profile with classes)",
        ),
        (predicted(None, quality_unavailable=UNAVAILABLE), BALANCED_CHAMPION, True, UNAVAILABLE),
    ],
)
def test_prediction_drift_vs_champion(
    candidate: VersionWindow, champion: VersionWindow, passed: bool, reason: str
) -> None:
    [result] = evaluate_checks(DRIFT_SHADOW, candidate, champion)
    assert (result.name, result.passed, result.limit, result.reason) == (
        "prediction_drift_vs_champion",
        passed,
        0.2,
        reason,
    )
    if reason.startswith("JS distance"):  # measured
        assert result.value == pytest.approx(prediction_js(candidate.predicted_classes, champion.predicted_classes))
    else:  # inconclusive
        assert result.value is None


def test_the_quality_checks_come_last_and_only_when_set() -> None:
    spec = parse_spec(
        {
            "strategy": "canary",
            "step_weights": [50],
            "accuracy_vs_champion": {"min_labels": 1},
            "prediction_drift_vs_champion": {"max_js": 0.2, "min_rows": 1},
        }
    )
    names = [result.name for result in evaluate_checks(spec, labelled(10, 10), labelled(10, 10))]
    assert names == [
        "candidate_error_rate",
        "candidate_p99_latency_ms",
        "error_rate_vs_champion",
        "p99_latency_ratio_vs_champion",
        "accuracy_vs_champion",
        "prediction_drift_vs_champion",
    ]
    bluegreen = parse_spec({"strategy": "bluegreen", "prediction_drift_vs_champion": {"max_js": 0.2}})
    assert [r.name for r in evaluate_checks(bluegreen, predicted(None), CHAMPION)][-1] == (
        "prediction_drift_vs_champion"
    )
    plain = [r.name for r in evaluate_checks(parse_spec({"strategy": "abtest"}), labelled(10, 0), CHAMPION)]
    assert not {"accuracy_vs_champion", "candidate_accuracy", "prediction_drift_vs_champion"} & set(plain)
