"""The validation gate: does a candidate's holdout score earn it the alias? A pure function of the scores."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChampionScore(BaseModel):
    """The champion's score on the candidate's holdout, or why it could not be scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(description="Which version, e.g. 'iris/3'.")
    score: float | None = Field(description="Holdout score; None when the champion could not be scored.")
    error: str | None = Field(None, description="Why the champion could not be scored on this holdout.")


class GateDecision(BaseModel):
    """The gate's verdict; `reasons` says why, whether it passed or not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool = Field(description="True when the candidate may take the alias.")
    reasons: list[str] = Field(description="Human-readable reasons, recorded in the version's tags.")


def decide(
    metric: str,
    mode: Literal["min", "max"],
    candidate: float,
    champion: ChampionScore | None,
    margin: float,
    min_score: float | None = None,
) -> GateDecision:
    """Pass iff the candidate reaches `min_score` (if set) and beats the champion (if any) by at least `margin`.

    "Beats by `margin`" means `candidate >= champion + margin` for metrics to maximise and
    `candidate <= champion - margin` for metrics to minimise, so `margin=0` admits a tie. A champion that could not
    be scored fails the gate: a comparison that did not happen is never treated as a win.
    """
    failures = []
    if not math.isfinite(candidate):
        failures.append(f"candidate {metric} is {candidate}")
    elif min_score is not None and not _at_least(candidate, min_score, mode):
        failures.append(f"{metric} {candidate:.4f} misses the minimum {min_score:.4f}")
    if champion is not None:
        failures.extend(_versus_champion(metric, mode, candidate, champion, margin))
    if failures:
        return GateDecision(passed=False, reasons=failures)
    if champion is None:
        return GateDecision(passed=True, reasons=[f"no champion to compare with; {metric} {candidate:.4f}"])
    return GateDecision(
        passed=True,
        reasons=[
            f"{metric} {candidate:.4f} beats champion {champion.label} ({champion.score:.4f}) by margin {margin:.4f}"
        ],
    )


def _versus_champion(
    metric: str, mode: Literal["min", "max"], candidate: float, champion: ChampionScore, margin: float
) -> list[str]:
    if champion.score is None:
        return [f"champion {champion.label} could not be scored on this holdout: {champion.error}"]
    target = champion.score + margin if mode == "max" else champion.score - margin
    if math.isfinite(candidate) and _at_least(candidate, target, mode):
        return []
    return [
        f"{metric} {candidate:.4f} does not beat champion {champion.label} ({champion.score:.4f}) "
        f"by margin {margin:.4f}"
    ]


# Scores such as 0.95 + 0.01 are not exact in binary; a tie within this tolerance counts as reaching the bound.
_TOLERANCE = 1e-12


def _at_least(value: float, bound: float, mode: Literal["min", "max"]) -> bool:
    return value >= bound - _TOLERANCE if mode == "max" else value <= bound + _TOLERANCE
