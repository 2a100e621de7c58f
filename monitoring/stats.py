"""Distances between a reference and a live distribution given as counts over the same bins, and the quantile bin
edges those counts are taken on. Pure: numpy (and scipy's chi-square distribution) only, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from monitoring.contract import Strict

Counts = np.ndarray | Sequence[float]


class ChiSquare(Strict):
    """The result of a chi-square test of homogeneity between reference and live counts."""

    statistic: float = Field(description="Pearson's chi-square statistic (no continuity correction).")
    p_value: float = Field(description="Probability of a statistic at least this large if both share one distribution.")
    dof: int = Field(description="Degrees of freedom: non-empty bins minus one.")


def _counts(reference_counts: Counts, live_counts: Counts) -> tuple[np.ndarray, np.ndarray]:
    """Both count vectors as float arrays, checked to be comparable: same length, non-negative, non-empty."""
    reference = np.asarray(reference_counts, dtype=float)
    live = np.asarray(live_counts, dtype=float)
    for side, counts in (("reference", reference), ("live", live)):
        if counts.ndim != 1:
            raise ValueError(f"{side} counts must be one-dimensional, got shape {counts.shape}")
        if not np.isfinite(counts).all():
            raise ValueError(f"{side} counts must be finite")
        if (counts < 0).any():
            raise ValueError(f"{side} counts must be non-negative")
    if reference.size != live.size:
        raise ValueError(f"reference and live counts differ in length ({reference.size} vs {live.size})")
    for side, counts in (("reference", reference), ("live", live)):
        if counts.sum() == 0:
            raise ValueError(f"{side} counts sum to zero")
    return reference, live


def psi(reference_counts: Counts, live_counts: Counts, epsilon: float = 1e-4) -> float:
    """Population Stability Index of the live distribution against the reference one."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    reference, live = _counts(reference_counts, live_counts)
    # The usual convention: an empty bin on either side would make the log infinite, so proportions are floored at
    # epsilon (without renormalising), which caps each bin's contribution.
    p = np.maximum(reference / reference.sum(), epsilon)
    q = np.maximum(live / live.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference_counts: Counts, live_counts: Counts) -> float:
    """Jensen-Shannon distance (square root of the base-2 divergence), in [0, 1]."""
    reference, live = _counts(reference_counts, live_counts)
    p, q = reference / reference.sum(), live / live.sum()
    m = (p + q) / 2
    divergence = (_relative_entropy(p, m) + _relative_entropy(q, m)) / (2 * np.log(2))
    # Rounding can push the divergence a hair outside [0, 1].
    return float(np.sqrt(np.clip(divergence, 0.0, 1.0)))


def chi_square(reference_counts: Counts, live_counts: Counts) -> ChiSquare:
    """Chi-square test of homogeneity on the 2 x K table [reference; live], bins empty on both sides dropped."""
    reference, live = _counts(reference_counts, live_counts)
    table = np.vstack([reference, live])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ChiSquare(statistic=0.0, p_value=1.0, dof=0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    # Imported here: scipy.stats costs the monitor's process ~40 MiB, and only categorical features need it.
    from scipy.stats import chi2

    return ChiSquare(statistic=statistic, p_value=float(chi2.sf(statistic, dof)), dof=dof)


def _relative_entropy(p: np.ndarray, m: np.ndarray) -> float:
    """sum p log(p / m), with 0 log 0 = 0; m > 0 wherever p > 0 (m is the mixture of p and another)."""
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log(p[nonzero] / m[nonzero])))


def quantile_edges(values: np.ndarray | Sequence[float], bins: int) -> list[float]:
    """Bin edges at quantiles 0, 1/bins, ..., 1 of the finite values, deduplicated and strictly increasing."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    array = np.asarray(values, dtype=float).ravel()
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        raise ValueError("values contain no finite value")
    # i / bins rather than linspace: linspace's i * (1 / bins) misses round figures (0.30000000000000004).
    edges = np.quantile(finite, np.arange(bins + 1) / bins)
    return np.unique(edges).tolist()
