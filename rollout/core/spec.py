"""Rollout specs in Flagger's vocabulary: one pydantic model per strategy, discriminated by `strategy`.

A spec says how fast traffic moves (`interval_s`, `step_weights` or `step_weight` + `max_weight`), what counts
as healthy (metric checks with `min`/`max`, a candidate-versus-champion comparison and, for the strategies that
mirror traffic, a bound on shadow disagreement), what counts as a good model (its predicted classes against the
champion's, `prediction_drift_vs_champion`, and, for the strategies whose candidate answers users, its accuracy on
labelled answers against the champion's, `accuracy_vs_champion`), how much data an interval needs (`min_requests`,
`min_shadow_rows`, the quality checks' `min_labels` and `min_rows`) and how many failed intervals roll back
(`threshold`). Everything here is pure: loading a file is `rollout.spec_file.load_spec`.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator


class MetricName(StrEnum):
    """The per-interval figures a metric check can bound; units are in the names."""

    CANDIDATE_ERROR_RATE = "candidate_error_rate"
    CANDIDATE_P99_LATENCY_MS = "candidate_p99_latency_ms"


class MetricCheck(BaseModel):
    """Flagger's `thresholdRange`: the candidate's figure must lie within [min, max] every interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: MetricName = Field(
        description="Which figure to check: candidate_error_rate (0..1) or candidate_p99_latency_ms."
    )
    min: float | None = Field(default=None, description="Lowest acceptable value (inclusive); omit for no bound.")
    max: float | None = Field(default=None, description="Highest acceptable value (inclusive); omit for no bound.")

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> MetricCheck:
        if self.min is None and self.max is None:
            raise ValueError(f"metric check '{self.name}' needs a min or a max (or both)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"metric check '{self.name}' has min {self.min} greater than max {self.max}")
        if self.name is MetricName.CANDIDATE_ERROR_RATE:
            for bound in (self.min, self.max):
                if bound is not None and not 0 <= bound <= 1:
                    raise ValueError(f"candidate_error_rate bounds are fractions in [0, 1], got {bound}")
        return self


def default_metrics() -> list[MetricCheck]:
    return [
        MetricCheck(name=MetricName.CANDIDATE_ERROR_RATE, max=0.05),
        MetricCheck(name=MetricName.CANDIDATE_P99_LATENCY_MS, max=1000.0),
    ]


class ComparisonSpec(BaseModel):
    """Candidate versus champion over the same interval; a part set to null is not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate_significance: float | None = Field(
        default=0.01,
        gt=0,
        lt=0.5,
        description="One-sided two-proportion z-test: fail when the candidate's error rate is higher than "
        "the champion's with a p-value below this significance level.",
    )
    max_p99_latency_ratio: float | None = Field(
        default=4.0,
        ge=1,
        description="Fail when candidate p99 latency / champion p99 latency exceeds this ratio.",
    )
    latency_ratio_floor_ms: float = Field(
        default=250.0,
        ge=0,
        description="The ratio is not checked while the candidate's p99 is below this many ms: at "
        "millisecond scale it measures scheduling noise, not the model.",
    )


class AccuracyCheck(BaseModel):
    """The candidate's accuracy on labelled answers against the champion's over the same interval (classification).

    Labels join with the answers users got, so this needs a candidate that answers users (canary, A/B test). An
    interval's labels and correct rows are the increase of the monitor's counters over it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_labels: int = Field(
        default=30,
        ge=1,
        description="Labelled rows each version needs in an interval for the check to judge it; with fewer on "
        "either side it passes, saying so.",
    )
    max_drop: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Accuracy (a fraction: 0.05 is 5 points) the candidate may lose against the champion: an "
        "interval fails only when the candidate is below the champion by more than this and significantly so.",
    )
    p_value: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="Significance level of the one-sided two-proportion z-test (champion more accurate than the "
        "candidate) that a drop beyond max_drop must pass to fail the interval.",
    )
    min_accuracy: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Fail an interval (check candidate_accuracy) whose candidate accuracy over at least min_labels "
        "labels is below this fraction; null: no absolute floor.",
    )


class PredictionDriftCheck(BaseModel):
    """The candidate's predicted-class distribution against the champion's over the same interval.

    Mirrored requests are predicted, and counted by the monitor, too, so this works for every strategy, blue/green
    and shadow included; it needs versions whose reference profile has classes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_js: float = Field(
        ge=0,
        le=1,
        description="Fail an interval when the Jensen-Shannon distance (base 2, 0..1) between the candidate's and "
        "the champion's predicted-class distributions over it exceeds this.",
    )
    min_rows: int = Field(
        default=50,
        ge=1,
        description="Predicted rows each version needs in an interval for the check to judge it; with fewer on "
        "either side it passes, saying so.",
    )


class AnalysisSpec(BaseModel):
    """What every strategy shares: the analysis cadence, the checks and the clean-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float = Field(default=2.0, gt=0, description="Seconds between analyses (Flagger's `interval`).")
    threshold: int = Field(
        default=2,
        ge=1,
        description="Failed intervals (cumulative, as in Flagger) before the candidate is rolled back.",
    )
    min_requests: int = Field(
        default=5,
        ge=1,
        description="Candidate requests an interval needs to be conclusive; fewer is inconclusive.",
    )
    max_inconclusive: int = Field(
        default=10,
        ge=1,
        description="Intervals a window may span without min_requests (it keeps growing meanwhile) before "
        "the rollout pauses; it never promotes on too little data.",
    )
    metrics: list[MetricCheck] = Field(
        default_factory=default_metrics,
        description="Bounds on the candidate's own figures, checked every interval.",
    )
    comparison: ComparisonSpec | None = Field(
        default_factory=ComparisonSpec, description="Candidate-versus-champion checks; null disables them."
    )
    prediction_drift_vs_champion: PredictionDriftCheck | None = Field(
        default=None,
        description="Bound on how far the candidate's predicted classes drift from the champion's each interval "
        "(counted by the monitor, read from the gateway's monitoring route); null: not checked.",
    )
    warm_window_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds the losing version's app stays deployed (for an instant abort).",
    )
    failover: bool = Field(default=True, description="The gateway retries a failed candidate request on the champion.")


class LiveAnswersSpec(AnalysisSpec):
    """What the strategies whose candidate answers users (canary, A/B test) add: its live accuracy against the
    champion's. Blue/green and shadow analyse mirrored answers only, which users never get and nobody labels (and
    blue/green's analysis ends at the switch), so they have no accuracy to judge."""

    accuracy_vs_champion: AccuracyCheck | None = Field(
        default=None,
        description="Fail an interval whose candidate accuracy on labelled answers is significantly below the "
        "champion's (labels joined by the monitor, read from the gateway's monitoring route); null: not checked.",
    )


class CanarySpec(LiveAnswersSpec):
    """Shift traffic step by step while every interval passes; promote after the last step."""

    strategy: Literal["canary"] = Field(description="Progressive traffic shifting.")
    step_weights: list[int] | None = Field(
        default=None,
        description="Candidate weights (percent) in order, e.g. [10, 25, 50]; or use step_weight.",
    )
    step_weight: int | None = Field(
        default=None, ge=1, le=100, description="Increment (percent) per step, up to max_weight."
    )
    max_weight: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Last candidate weight (percent) before promotion, with step_weight.",
    )

    @field_validator("step_weights")
    @classmethod
    def _increasing(cls, weights: list[int] | None) -> list[int] | None:
        if weights is not None:
            _check_increasing(weights)
        return weights

    @model_validator(mode="after")
    def _one_way_to_step(self) -> CanarySpec:
        if self.step_weights is not None and (self.step_weight is not None or self.max_weight is not None):
            raise ValueError("give either step_weights or step_weight + max_weight, not both")
        if self.step_weights is None and (self.step_weight is None or self.max_weight is None):
            raise ValueError("give step_weights (e.g. [10, 25, 50]) or both step_weight and max_weight")
        if self.step_weights is None and self.step_weight > self.max_weight:
            raise ValueError(f"step_weight {self.step_weight} is greater than max_weight {self.max_weight}")
        return self

    def schedule(self) -> list[int]:
        """Candidate weight for each analysis step, in order."""
        if self.step_weights is not None:
            return list(self.step_weights)
        steps = math.ceil(self.max_weight / self.step_weight)
        return [min(self.step_weight * i, self.max_weight) for i in range(1, steps + 1)]


def _check_increasing(weights: list[int]) -> None:
    if not weights:
        raise ValueError("must list at least one weight")
    for weight in weights:
        if not 1 <= weight <= 100:
            raise ValueError(f"each weight must be a percentage in [1, 100], got {weight}")
    for before, after in zip(weights, weights[1:], strict=False):
        if after <= before:
            raise ValueError(f"must be strictly increasing, got {before} then {after}")


class MirroringSpec(AnalysisSpec):
    """What the strategies that mirror live requests to the candidate (blue/green, shadow) add: a bound on how often
    its mirrored answers differ from the answers users got."""

    max_shadow_disagreement: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Fail an interval when the fraction of compared mirrored rows whose prediction differs from "
        "the live one (1 - agreed / compared) exceeds this; null: not checked.",
    )
    min_shadow_rows: int = Field(
        default=20,
        ge=1,
        description="Mirrored rows an interval needs compared for the disagreement check to be conclusive; with "
        "fewer it passes, saying so.",
    )


class BlueGreenSpec(MirroringSpec):
    """Candidate at 0 % while smoke-checked on mirrored live requests, then 100 % at once."""

    strategy: Literal["bluegreen"] = Field(description="Switch all traffic at once after a smoke check.")
    iterations: int = Field(default=3, ge=1, description="Passing intervals of smoke checks before the switch.")
    mirror_percent: int = Field(
        default=100,
        ge=1,
        le=100,
        description="Percent of live requests mirrored to the candidate during the smoke check (the smoke check "
        "needs live traffic: without any, it stays inconclusive and pauses after max_inconclusive).",
    )

    def schedule(self) -> list[int]:
        return [0] * self.iterations


class ShadowSpec(MirroringSpec):
    """Mirror a share of traffic to the candidate, discard its answers, compare; never promotes by itself."""

    strategy: Literal["shadow"] = Field(description="Mirror traffic to the candidate without serving its answers.")
    iterations: int = Field(default=10, ge=1, description="Intervals to mirror before the experiment concludes.")
    mirror_percent: int = Field(default=50, ge=1, le=100, description="Percent of live requests mirrored.")

    def schedule(self) -> list[int]:
        return [0] * self.iterations


class ABTestSpec(LiveAnswersSpec):
    """Sticky split by a request key for a duration, with a significance test at the end."""

    strategy: Literal["abtest"] = Field(description="A fixed, sticky split compared with a significance test.")
    candidate_weight: int = Field(default=50, ge=1, le=99, description="Percent of keys routed to the candidate.")
    duration_s: float = Field(default=60.0, gt=0, description="Length of the experiment in seconds.")
    sticky_header: str = Field(
        default="x-user-id",
        min_length=1,
        description="Request header whose value pins a caller to a version.",
    )
    promote_winner: bool = Field(
        default=False,
        description="Promote the candidate when its error rate over the whole test is significantly lower "
        "than the champion's; otherwise the test only concludes.",
    )
    significance: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="Significance level of the final one-sided two-proportion z-test (candidate better).",
    )

    @model_validator(mode="after")
    def _long_enough(self) -> ABTestSpec:
        if self.duration_s < self.interval_s:
            raise ValueError(f"duration_s {self.duration_s} is shorter than one interval_s ({self.interval_s})")
        return self

    def schedule(self) -> list[int]:
        return [self.candidate_weight] * math.ceil(self.duration_s / self.interval_s)


RolloutSpec = Annotated[CanarySpec | BlueGreenSpec | ShadowSpec | ABTestSpec, Field(discriminator="strategy")]
ROLLOUT_SPEC_ADAPTER: TypeAdapter[RolloutSpec] = TypeAdapter(RolloutSpec)


def parse_spec(data: object) -> RolloutSpec:
    """Validate a spec document (raises pydantic's ValidationError)."""
    return ROLLOUT_SPEC_ADAPTER.validate_python(data)


def mirror_percent(spec: RolloutSpec) -> int:
    """Percent of live traffic mirrored to the candidate while the strategy runs."""
    return spec.mirror_percent if isinstance(spec, BlueGreenSpec | ShadowSpec) else 0


def sticky_header(spec: RolloutSpec) -> str | None:
    """The request header that pins callers to a version while the strategy runs (A/B tests only)."""
    return spec.sticky_header if isinstance(spec, ABTestSpec) else None


def promotes_on_success(spec: RolloutSpec) -> bool:
    """Whether passing the whole schedule promotes the candidate (shadow and A/B tests only conclude)."""
    return isinstance(spec, CanarySpec | BlueGreenSpec)
