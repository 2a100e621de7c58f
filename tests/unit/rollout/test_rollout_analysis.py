"""Rollout statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from deployments.histogram import Histogram
from rollout.core.analysis import (
    disagreement,
    error_rate,
    evaluate_checks,
    is_conclusive,
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
