"""Pure statistics for rollout analysis: windows from counter deltas (latency quantiles from
`deployments.histogram`), error rates, shadow agreement, a two-proportion z-test, and the evaluation of a spec's
checks into `CheckResult`s."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from rollout.core.observation import VersionCounters, VersionWindow
from rollout.core.spec import AnalysisSpec, ComparisonSpec, MetricCheck, MetricName, MirroringSpec

SHADOW_DISAGREEMENT = "shadow_disagreement"


class CheckResult(BaseModel):
    """The verdict of one check over one interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Check name, e.g. candidate_error_rate or error_rate_vs_champion.")
    passed: bool = Field(description="Whether the interval passed this check (skipped checks pass).")
    value: float | None = Field(description="The measured figure; null when it could not be measured.")
    limit: float | None = Field(description="The bound it was compared with (max, or min when below it).")
    reason: str = Field(description="One line a human can read.")


class ZTest(BaseModel):
    """A one-sided two-proportion z-test: is proportion a greater than proportion b?"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    z: float = Field(description="The z statistic (0 when the pooled variance is 0).")
    p_value: float = Field(description="P(Z >= z) under the null hypothesis of equal proportions.")


def error_rate(requests: int, errors: int) -> float | None:
    """Errors / requests, or None without requests (a window's: routed requests and their 5xx)."""
    return errors / requests if requests else None


def agreement(compared: int, agreed: int) -> float | None:
    """Shadow agreement: mirrored rows whose prediction equalled the live one / rows compared; None without any."""
    return agreed / compared if compared else None


def disagreement(compared: int, agreed: int) -> float | None:
    """Mirrored rows whose prediction differed from the live one / rows compared; None without any."""
    return (compared - agreed) / compared if compared else None  # not 1 - agreement: 1 - 0.7 > 0.3 in floats


def describe_agreement(compared: int, agreed: int) -> str:
    """e.g. '97.3% (973/1000 rows)', or 'no rows compared'."""
    share = agreement(compared, agreed)
    return "no rows compared" if share is None else f"{share:.1%} ({agreed}/{compared} rows)"


def window_between(before: VersionCounters | None, after: VersionCounters) -> VersionWindow:
    """The window between two cumulative snapshots, of routed requests and their 5xx only (pinned requests are
    a client's choice, see `rollout.core.observation`). A counter that went down (a restarted replica) is read as
    having started from zero, as Prometheus' `increase()` does."""
    base = VersionCounters(requests=0, errors=0) if before is None or _went_down(before, after) else before
    requests = max(after.routed_requests - base.routed_requests, 0)
    errors = min(max(after.routed_errors - base.routed_errors, 0), requests)
    latency = after.latency_ms.minus(base.latency_ms)
    compared = after.shadow_rows_compared - base.shadow_rows_compared
    return VersionWindow(
        requests=requests,
        errors=errors,
        p50_ms=latency.quantile(0.5),
        p99_ms=latency.quantile(0.99),
        shadow_rows_compared=compared,
        shadow_rows_agreed=min(after.shadow_rows_agreed - base.shadow_rows_agreed, compared),
    )


def _went_down(before: VersionCounters, after: VersionCounters) -> bool:
    return (
        after.requests < before.requests
        or after.errors < before.errors
        or after.pinned_requests < before.pinned_requests
        or after.pinned_errors < before.pinned_errors
        or after.latency_ms.count < before.latency_ms.count
        or after.shadow_rows_compared < before.shadow_rows_compared
        or after.shadow_rows_agreed < before.shadow_rows_agreed
    )


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ZTest:
    """One-sided pooled z-test of H1: p_a > p_b. Needs both trial counts > 0."""
    if trials_a <= 0 or trials_b <= 0:
        raise ValueError("both samples need at least one trial")
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return ZTest(z=0.0, p_value=1.0 if p_a <= p_b else 0.0)
    z = (p_a - p_b) / math.sqrt(variance)
    return ZTest(z=z, p_value=0.5 * math.erfc(z / math.sqrt(2)))


def is_conclusive(spec: AnalysisSpec, candidate: VersionWindow) -> bool:
    """An interval with fewer candidate requests than `min_requests` says nothing either way."""
    return candidate.requests >= spec.min_requests


def evaluate_checks(spec: AnalysisSpec, candidate: VersionWindow, champion: VersionWindow) -> list[CheckResult]:
    """Every metric check, then the candidate-versus-champion comparison, then (when the strategy mirrors traffic
    and bounds it) the shadow disagreement, for one conclusive interval."""
    results = [_metric_check(check, candidate) for check in spec.metrics]
    if spec.comparison is not None:
        results.extend(_comparison_checks(spec.comparison, spec.min_requests, candidate, champion))
    if isinstance(spec, MirroringSpec) and spec.max_shadow_disagreement is not None:
        results.append(shadow_disagreement_check(spec.max_shadow_disagreement, spec.min_shadow_rows, candidate))
    return results


def shadow_disagreement_check(max_disagreement: float, min_rows: int, candidate: VersionWindow) -> CheckResult:
    """Fails when more than `max_disagreement` of the candidate's compared mirrored rows differed from the live
    answer; inconclusive (passes) below `min_rows`, where a few rows would decide it by chance."""
    compared, agreed = candidate.shadow_rows_compared, candidate.shadow_rows_agreed
    if compared < min_rows:
        reason = f"skipped: {compared} mirrored rows compared (< {min_rows})"
        return CheckResult(name=SHADOW_DISAGREEMENT, passed=True, value=None, limit=max_disagreement, reason=reason)
    value = disagreement(compared, agreed)
    passed = value <= max_disagreement
    bound = f"within max {max_disagreement:g}" if passed else f"above max {max_disagreement:g}"
    reason = f"{value:.4g} {bound} ({agreed}/{compared} rows agreed)"
    return CheckResult(name=SHADOW_DISAGREEMENT, passed=passed, value=value, limit=max_disagreement, reason=reason)


def _metric_value(name: MetricName, window: VersionWindow) -> float | None:
    if name is MetricName.CANDIDATE_ERROR_RATE:
        return error_rate(window.requests, window.errors)
    return window.p99_ms


def _metric_check(check: MetricCheck, candidate: VersionWindow) -> CheckResult:
    value = _metric_value(check.name, candidate)
    if value is None:
        return CheckResult(
            name=check.name,
            passed=True,
            value=None,
            limit=check.max,
            reason=f"skipped: no {check.name} measured",
        )
    if check.max is not None and value > check.max:
        return CheckResult(
            name=check.name,
            passed=False,
            value=value,
            limit=check.max,
            reason=f"{value:.4g} above max {check.max:g}",
        )
    if check.min is not None and value < check.min:
        return CheckResult(
            name=check.name,
            passed=False,
            value=value,
            limit=check.min,
            reason=f"{value:.4g} below min {check.min:g}",
        )
    limit = check.max if check.max is not None else check.min
    return CheckResult(name=check.name, passed=True, value=value, limit=limit, reason=f"{value:.4g} within bounds")


def _comparison_checks(
    comparison: ComparisonSpec, min_requests: int, candidate: VersionWindow, champion: VersionWindow
) -> list[CheckResult]:
    results = []
    if comparison.error_rate_significance is not None:
        results.append(_error_rate_comparison(comparison.error_rate_significance, min_requests, candidate, champion))
    if comparison.max_p99_latency_ratio is not None:
        results.append(
            _latency_ratio(
                comparison.max_p99_latency_ratio,
                comparison.latency_ratio_floor_ms,
                min_requests,
                candidate,
                champion,
            )
        )
    return results


def _error_rate_comparison(
    significance: float, min_requests: int, candidate: VersionWindow, champion: VersionWindow
) -> CheckResult:
    name = "error_rate_vs_champion"
    if champion.requests < min_requests:
        reason = f"skipped: champion had {champion.requests} requests (< {min_requests})"
        return CheckResult(name=name, passed=True, value=None, limit=significance, reason=reason)
    test = two_proportion_z_test(candidate.errors, candidate.requests, champion.errors, champion.requests)
    worse = test.p_value < significance
    verdict = "significantly higher than" if worse else "not significantly higher than"
    reason = f"candidate error rate {verdict} champion's (p={test.p_value:.3g}, alpha={significance:g})"
    return CheckResult(name=name, passed=not worse, value=test.p_value, limit=significance, reason=reason)


def _latency_ratio(
    max_ratio: float, floor_ms: float, min_requests: int, candidate: VersionWindow, champion: VersionWindow
) -> CheckResult:
    name = "p99_latency_ratio_vs_champion"
    if champion.requests < min_requests:
        reason = f"skipped: champion had {champion.requests} requests (< {min_requests})"
        return CheckResult(name=name, passed=True, value=None, limit=max_ratio, reason=reason)
    if candidate.p99_ms is None or not champion.p99_ms:
        reason = "skipped: p99 latency missing for the candidate or the champion"
        return CheckResult(name=name, passed=True, value=None, limit=max_ratio, reason=reason)
    if candidate.p99_ms < floor_ms:
        reason = f"skipped: candidate p99 {candidate.p99_ms:.3g} ms is below the {floor_ms:g} ms floor"
        return CheckResult(name=name, passed=True, value=None, limit=max_ratio, reason=reason)
    ratio = candidate.p99_ms / champion.p99_ms
    passed = ratio <= max_ratio
    reason = f"candidate p99 is {ratio:.2f}x the champion's ({'within' if passed else 'above'} {max_ratio:g}x)"
    return CheckResult(name=name, passed=passed, value=ratio, limit=max_ratio, reason=reason)
