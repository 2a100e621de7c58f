"""Pure statistics for rollout analysis: windows from counter deltas (latency quantiles from
`deployments.histogram`), error rates, shadow agreement, accuracy, the Jensen-Shannon distance of predicted classes
(`monitoring.stats`), a two-proportion z-test, and the evaluation of a spec's checks into `CheckResult`s."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from monitoring.stats import js_distance
from rollout.core.observation import VersionCounters, VersionWindow
from rollout.core.spec import (
    AccuracyCheck,
    AnalysisSpec,
    ComparisonSpec,
    LiveAnswersSpec,
    MetricCheck,
    MetricName,
    MirroringSpec,
    PredictionDriftCheck,
)

SHADOW_DISAGREEMENT = "shadow_disagreement"
ACCURACY_VS_CHAMPION = "accuracy_vs_champion"
CANDIDATE_ACCURACY = "candidate_accuracy"
PREDICTION_DRIFT_VS_CHAMPION = "prediction_drift_vs_champion"
# How a window without quality counters starts its reason (and the reason of every quality check over it).
MONITORING_UNAVAILABLE = "monitoring unavailable"
# Accuracy drops are differences of ratios: 0.9 - 0.85 is 0.05000000000000004 in floats, not above a 0.05 bound.
ACCURACY_TOLERANCE = 1e-9


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


def accuracy(labels: int, correct: int) -> float | None:
    """Correct rows / labelled rows, or None without labels."""
    return correct / labels if labels else None


def describe_accuracy(labels: int, correct: int) -> str:
    """e.g. '95.8% (115/120 labels)', or 'no labels'."""
    share = accuracy(labels, correct)
    return "no labels" if share is None else f"{share:.1%} ({correct}/{labels} labels)"


def prediction_js(candidate: dict[str, int], champion: dict[str, int]) -> float:
    """Jensen-Shannon distance (base 2) between two versions' predicted-class counts, over the union of their
    classes (a class one of them never predicted counts 0 for it). Both need at least one row."""
    classes = sorted(set(candidate) | set(champion))
    return js_distance([champion.get(name, 0) for name in classes], [candidate.get(name, 0) for name in classes])


def window_between(
    before: VersionCounters | None, after: VersionCounters, monitoring_unavailable: str | None = None
) -> VersionWindow:
    """The window between two cumulative snapshots, of routed requests and their 5xx only (pinned requests are
    a client's choice, see `rollout.core.observation`). A counter that went down (a restarted replica) is read as
    having started from zero, as Prometheus' `increase()` does.

    The quality counters (labels, correct rows, predicted classes) come from the monitor, which restarts on its own:
    they reset apart from the gateway's. They are unknown when either snapshot lacks them; `monitoring_unavailable`
    says why the monitoring route could not be read at either end."""
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
        **_quality_between(before, after, monitoring_unavailable),
    )


def _quality_between(
    before: VersionCounters | None, after: VersionCounters, monitoring_unavailable: str | None
) -> dict[str, object]:
    if monitoring_unavailable is None and (after.labels is None or (before is not None and before.labels is None)):
        monitoring_unavailable = "no quality counters in the stats"
    if monitoring_unavailable is not None:
        return {"quality_unavailable": f"{MONITORING_UNAVAILABLE}: {monitoring_unavailable}"}
    reset = before is None or _quality_went_down(before, after)
    base_labels, base_correct = (0, 0) if reset else (before.labels, before.correct or 0)
    labels = max(after.labels - base_labels, 0)
    correct = min(max((after.correct or 0) - base_correct, 0), labels)
    classes = None
    if after.predicted_classes is not None:
        # A version whose classes were not counted before (no profile yet) has counted them from zero since.
        base_classes = {} if reset or before.predicted_classes is None else before.predicted_classes
        classes = {name: max(rows - base_classes.get(name, 0), 0) for name, rows in after.predicted_classes.items()}
    return {"labels": labels, "correct": correct, "predicted_classes": classes}


def _quality_went_down(before: VersionCounters, after: VersionCounters) -> bool:
    """The monitor restarted (its counters start from zero again): a count went down, or a class disappeared."""
    if after.labels < before.labels or (after.correct or 0) < (before.correct or 0):
        return True
    if before.predicted_classes is None or after.predicted_classes is None:
        return False
    return any(after.predicted_classes.get(name, -1) < rows for name, rows in before.predicted_classes.items())


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
    and bounds it) the shadow disagreement, then the quality checks the spec sets (accuracy against the champion,
    the candidate's minimum accuracy, prediction drift against the champion), for one conclusive interval."""
    results = [_metric_check(check, candidate) for check in spec.metrics]
    if spec.comparison is not None:
        results.extend(_comparison_checks(spec.comparison, spec.min_requests, candidate, champion))
    if isinstance(spec, MirroringSpec) and spec.max_shadow_disagreement is not None:
        results.append(shadow_disagreement_check(spec.max_shadow_disagreement, spec.min_shadow_rows, candidate))
    if isinstance(spec, LiveAnswersSpec) and spec.accuracy_vs_champion is not None:
        results.extend(accuracy_checks(spec.accuracy_vs_champion, candidate, champion))
    if spec.prediction_drift_vs_champion is not None:
        results.append(prediction_drift_check(spec.prediction_drift_vs_champion, candidate, champion))
    return results


def accuracy_checks(check: AccuracyCheck, candidate: VersionWindow, champion: VersionWindow) -> list[CheckResult]:
    """`accuracy_vs_champion`, and `candidate_accuracy` when the check sets `min_accuracy`."""
    results = [accuracy_vs_champion_check(check, candidate, champion)]
    if check.min_accuracy is not None:
        results.append(candidate_accuracy_check(check.min_accuracy, check.min_labels, candidate))
    return results


def accuracy_vs_champion_check(check: AccuracyCheck, candidate: VersionWindow, champion: VersionWindow) -> CheckResult:
    """Fails when the candidate's accuracy over the interval is below the champion's by more than `max_drop` and
    a one-sided two-proportion z-test (champion more accurate) gives p below `p_value`; inconclusive (passes)
    without quality counters or below `min_labels` on either side. The value is the drop (champion accuracy minus
    the candidate's, negative when the candidate is better), the limit `max_drop`."""
    name, limit = ACCURACY_VS_CHAMPION, check.max_drop
    skipped = _quality_unavailable(candidate, champion) or _too_few_labels(check.min_labels, candidate, champion)
    if skipped is not None:
        return CheckResult(name=name, passed=True, value=None, limit=limit, reason=skipped)
    ours, theirs = accuracy(candidate.labels, candidate.correct), accuracy(champion.labels, champion.correct)
    drop = theirs - ours
    test = two_proportion_z_test(champion.correct, champion.labels, candidate.correct, candidate.labels)
    beyond = drop - limit > ACCURACY_TOLERANCE
    significant = test.p_value < check.p_value
    labels = f"{candidate.labels} and {champion.labels} labels"
    if not beyond:
        reason = (
            f"candidate accuracy {ours:.2f} not below champion {theirs:.2f} by more than {limit:.2f} "
            f"(p={test.p_value:.3g}; {labels})"
        )
    elif significant:
        reason = (
            f"candidate accuracy {ours:.2f} below champion {theirs:.2f} by more than {limit:.2f} "
            f"(p={test.p_value:.3g} < {check.p_value:g}; {labels})"
        )
    else:
        reason = (
            f"candidate accuracy {ours:.2f} below champion {theirs:.2f} by more than {limit:.2f}, not significantly "
            f"(p={test.p_value:.3g} >= {check.p_value:g}; {labels})"
        )
    return CheckResult(name=name, passed=not (beyond and significant), value=drop, limit=limit, reason=reason)


def candidate_accuracy_check(min_accuracy: float, min_labels: int, candidate: VersionWindow) -> CheckResult:
    """Fails when the candidate's accuracy over the interval is below `min_accuracy`; inconclusive (passes)
    without quality counters or below `min_labels`."""
    name = CANDIDATE_ACCURACY
    skipped = _quality_unavailable(candidate) or _too_few_labels(min_labels, candidate)
    if skipped is not None:
        return CheckResult(name=name, passed=True, value=None, limit=min_accuracy, reason=skipped)
    value = accuracy(candidate.labels, candidate.correct)
    passed = value >= min_accuracy
    bound = f"at or above min {min_accuracy:g}" if passed else f"below min {min_accuracy:g}"
    reason = f"{value:.4g} {bound} ({candidate.correct}/{candidate.labels} labels correct)"
    return CheckResult(name=name, passed=passed, value=value, limit=min_accuracy, reason=reason)


def prediction_drift_check(
    check: PredictionDriftCheck, candidate: VersionWindow, champion: VersionWindow
) -> CheckResult:
    """Fails when the Jensen-Shannon distance between the candidate's and the champion's predicted classes over
    the interval exceeds `max_js`; inconclusive (passes) without quality counters, without classes (no profile
    with classes) or below `min_rows` predicted rows on either side."""
    name, limit = PREDICTION_DRIFT_VS_CHAMPION, check.max_js
    skipped = _quality_unavailable(candidate, champion)
    for role, window in (("candidate", candidate), ("champion", champion)):
        if skipped is not None:
            break
        if window.predicted_classes is None:
            skipped = f"skipped: no predicted classes for the {role} (no profile with classes)"
        elif window.predicted_rows < check.min_rows:
            skipped = f"skipped: {window.predicted_rows} predicted rows for the {role} (< {check.min_rows})"
    if skipped is not None:
        return CheckResult(name=name, passed=True, value=None, limit=limit, reason=skipped)
    value = prediction_js(candidate.predicted_classes, champion.predicted_classes)
    passed = value <= limit
    reason = (
        f"JS distance {value:.3g} {'within' if passed else 'above'} max {limit:g} "
        f"({candidate.predicted_rows} and {champion.predicted_rows} predicted rows)"
    )
    return CheckResult(name=name, passed=passed, value=value, limit=limit, reason=reason)


def _quality_unavailable(*windows: VersionWindow) -> str | None:
    return next((window.quality_unavailable for window in windows if window.quality_unavailable is not None), None)


def _too_few_labels(min_labels: int, candidate: VersionWindow, champion: VersionWindow | None = None) -> str | None:
    for role, window in (("candidate", candidate), ("champion", champion)):
        if window is not None and window.labels < min_labels:
            return f"skipped: {window.labels} labels for the {role} (< {min_labels})"
    return None


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
