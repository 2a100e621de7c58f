"""Scoring a window of live counts against a version's reference profile (pure).

Per numeric feature PSI and Jensen-Shannon distance (the spec picks which one decides), per categorical feature a
chi-square test of homogeneity (with both distances shown), and the prediction distribution. A window with fewer
rows than the spec's `min_rows` is "insufficient data": scored as nothing, never drift.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from pydantic import Field

from monitoring.binning import Binner
from monitoring.contract import Strict
from monitoring.profile import CategoricalFeature, FeatureProfile, ReferenceProfile
from monitoring.sketch import CLASSES, FEATURES, SCORES
from monitoring.spec import DriftSpec, MonitorSpec
from monitoring.stats import chi_square, js_distance, psi


class Verdict(StrEnum):
    """What a window says about a version."""

    NO_PROFILE = "no reference profile"
    INSUFFICIENT = "insufficient data"
    OK = "ok"
    DRIFT = "drift"


class FeatureDrift(Strict):
    """One feature's distance from its reference over the window."""

    feature: str = Field(description="Column name.")
    kind: str = Field(description="numeric or categorical.")
    statistic: str = Field(description="What decides: psi, js or chi2_p_value (categorical).")
    score: float = Field(description="The deciding statistic's value.")
    threshold: float = Field(description="Drifted above it (below it for a p-value).")
    drifted: bool = Field(description="Whether the score crossed the threshold.")
    psi: float = Field(description="Population Stability Index against the reference.")
    js: float = Field(description="Jensen-Shannon distance (base 2) against the reference.")


class PredictionDrift(Strict):
    """The predictions' distance from the holdout predictions' distribution."""

    over: str = Field(description="classes or scores: which distribution was compared.")
    statistic: str = Field(description="psi or js.")
    score: float = Field(description="The statistic's value.")
    threshold: float = Field(description="Drifted above it.")
    drifted: bool = Field(description="Whether the score crossed the threshold.")


class DriftReport(Strict):
    """A window of one version, scored."""

    verdict: Verdict = Field(description="no reference profile, insufficient data, ok or drift.")
    rows: int = Field(description="Rows in the window.")
    min_rows: int = Field(description="Rows a window needs to be scored.")
    features: list[FeatureDrift] = Field(description="Every feature, the most drifted first; empty when unscored.")
    prediction: PredictionDrift | None = Field(description="Prediction drift; null when unscored or not profiled.")


def score_window(
    profile: ReferenceProfile | None, counts: dict[str, np.ndarray], rows: int, spec: MonitorSpec
) -> DriftReport:
    """The window's `DriftReport` under `spec`."""
    if profile is None:
        return DriftReport(verdict=Verdict.NO_PROFILE, rows=rows, min_rows=spec.min_rows, features=[], prediction=None)
    if rows < spec.min_rows or FEATURES not in counts:
        return DriftReport(
            verdict=Verdict.INSUFFICIENT, rows=rows, min_rows=spec.min_rows, features=[], prediction=None
        )
    live = Binner(profile).split_features(counts[FEATURES])
    features = [_feature_drift(feature, part, spec) for feature, part in zip(profile.features, live, strict=True)]
    features.sort(key=_severity, reverse=True)
    prediction = _prediction_drift(profile, counts, spec.prediction_drift)
    drifted = any(f.drifted for f in features) or (prediction is not None and prediction.drifted)
    return DriftReport(
        verdict=Verdict.DRIFT if drifted else Verdict.OK,
        rows=rows,
        min_rows=spec.min_rows,
        features=features,
        prediction=prediction,
    )


def _feature_drift(feature: FeatureProfile, live: np.ndarray, spec: MonitorSpec) -> FeatureDrift:
    reference = np.asarray(feature.counts)
    distances = {"psi": psi(reference, live), "js": js_distance(reference, live)}
    if isinstance(feature, CategoricalFeature):
        p_value = chi_square(reference, live).p_value
        statistic, score, threshold = "chi2_p_value", p_value, spec.categorical_p_value
        drifted = p_value < threshold
    else:
        statistic, threshold = spec.feature_drift.statistic, spec.feature_drift.threshold
        score = distances[statistic]
        drifted = score > threshold
    return FeatureDrift(
        feature=feature.name,
        kind=feature.kind,
        statistic=statistic,
        score=score,
        threshold=threshold,
        drifted=drifted,
        **distances,
    )


def _severity(drift: FeatureDrift) -> tuple[bool, float]:
    # Drifted features first, then by how far past (or close to) their threshold they are.
    ratio = (
        drift.threshold / max(drift.score, 1e-12)
        if drift.statistic == "chi2_p_value"
        else drift.score / drift.threshold
    )
    return drift.drifted, ratio


def _prediction_drift(
    profile: ReferenceProfile, counts: dict[str, np.ndarray], spec: DriftSpec
) -> PredictionDrift | None:
    reference = profile.predictions
    if reference is None:
        return None
    for over, key, reference_counts in (
        ("classes", CLASSES, reference.class_counts),
        ("scores", SCORES, reference.score_counts),
    ):
        live = counts.get(key)
        if reference_counts is not None and live is not None and sum(reference_counts) and live.sum():
            measure = psi if spec.statistic == "psi" else js_distance
            score = measure(np.asarray(reference_counts), live)
            return PredictionDrift(
                over=over,
                statistic=spec.statistic,
                score=score,
                threshold=spec.threshold,
                drifted=score > spec.threshold,
            )
    return None
