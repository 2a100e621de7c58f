"""monitoring.stats against hand-computed figures and scipy's reference implementations."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from monitoring.stats import ChiSquare, chi_square, js_distance, psi, quantile_edges

pytestmark = pytest.mark.unit

DISTANCES = [psi, js_distance, chi_square]


def random_count_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    pairs = []
    for bins in (2, 3, 5, 10, 25):
        reference, live = rng.integers(0, 50, bins), rng.integers(0, 50, bins)
        reference[0] = 0  # an empty reference bin
        live[-1] = 0  # an empty live bin
        reference[1], live[1] = 0, 0  # a bin empty on both sides
        if bins == 2:  # keep the two-bin case non-empty on each side
            reference[1], live[0] = 5, 7
        pairs.append((reference, live))
    return pairs


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([10, 20, 30, 40], [10, 20, 30, 40]) == 0.0
    assert psi([1, 2, 3], [100, 200, 300]) == pytest.approx(0.0, abs=1e-15)


def test_psi_equals_the_hand_figure() -> None:
    # p = (0.5, 0.5), q = (0.25, 0.75): -0.25 ln 0.5 + 0.25 ln 1.5 = 0.25 ln 3
    assert psi([50, 50], [25, 75]) == pytest.approx(0.25 * math.log(3), rel=1e-12)


def test_psi_floors_empty_bins_at_epsilon() -> None:
    # p = (1, 0) floored to (1, 1e-3), q = (0.5, 0.5)
    expected = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-3) * math.log(0.5 / 1e-3)
    assert psi([4, 0], [3, 3], epsilon=1e-3) == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(psi([4, 0], [0, 3]))


def test_psi_is_symmetric_and_grows_with_the_shift() -> None:
    assert psi([50, 50], [25, 75]) == pytest.approx(psi([25, 75], [50, 50]), rel=1e-12)
    assert psi([50, 50], [10, 90]) > psi([50, 50], [25, 75])


def test_psi_rejects_a_non_positive_epsilon() -> None:
    with pytest.raises(ValueError, match=re.escape("epsilon must be positive, got 0.0")):
        psi([1, 1], [1, 1], epsilon=0.0)


@pytest.mark.parametrize(("reference", "live"), random_count_pairs())
def test_js_distance_matches_scipy(reference: np.ndarray, live: np.ndarray) -> None:
    assert js_distance(reference, live) == pytest.approx(jensenshannon(reference, live, base=2), rel=1e-12, abs=1e-15)


def test_js_distance_is_zero_on_identical_and_one_on_disjoint_distributions() -> None:
    assert js_distance([3, 0, 5], [6, 0, 10]) == 0.0
    assert js_distance([3, 0, 5, 0], [0, 2, 0, 9]) == 1.0


def test_js_distance_is_symmetric() -> None:
    assert js_distance([1, 2, 3], [3, 2, 1]) == pytest.approx(js_distance([3, 2, 1], [1, 2, 3]), rel=1e-15)


@pytest.mark.parametrize(("reference", "live"), random_count_pairs())
def test_chi_square_matches_scipy(reference: np.ndarray, live: np.ndarray) -> None:
    table = np.vstack([reference, live])
    expected = chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)

    result = chi_square(reference, live)

    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert result.dof == expected.dof


def test_chi_square_on_a_two_by_two_table_has_no_continuity_correction() -> None:
    expected = chi2_contingency([[12, 5], [3, 9]], correction=False)
    result = chi_square([12, 5], [3, 9])

    assert (result.statistic, result.dof) == (pytest.approx(expected.statistic, rel=1e-12), 1)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi_square_equals_the_hand_figure() -> None:
    # Every expected count is 20: (100 + 0 + 100) / 20 per row, 20 in all, on 2 dof whose survival is exp(-x / 2).
    result = chi_square([10, 20, 30], [30, 20, 10])

    assert result.statistic == pytest.approx(20.0, rel=1e-12)
    assert result.p_value == pytest.approx(math.exp(-10), rel=1e-12)
    assert result.dof == 2


@pytest.mark.parametrize(("reference", "live"), [([5, 0, 0], [9, 0, 0]), ([0, 4, 0], [0, 1, 0])])
def test_chi_square_with_one_non_empty_bin_is_no_evidence(reference: list[int], live: list[int]) -> None:
    assert chi_square(reference, live) == ChiSquare(statistic=0.0, p_value=1.0, dof=0)


def test_chi_square_result_is_frozen_and_strict() -> None:
    result = chi_square([1, 2], [2, 1])
    with pytest.raises(ValidationError):
        result.dof = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ChiSquare(statistic=0.0, p_value=1.0, dof=0, extra=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize(
    ("reference", "live", "message"),
    [
        ([1, 2, 3], [1, 2], "reference and live counts differ in length (3 vs 2)"),
        ([1, -2, 3], [1, 2, 3], "reference counts must be non-negative"),
        ([1, 2, 3], [1, 2, -3], "live counts must be non-negative"),
        ([0, 0, 0], [1, 2, 3], "reference counts sum to zero"),
        ([1, 2, 3], [0, 0, 0], "live counts sum to zero"),
        ([], [], "reference counts sum to zero"),
        ([1, float("nan")], [1, 2], "reference counts must be finite"),
        ([[1, 2]], [1, 2], "reference counts must be one-dimensional, got shape (1, 2)"),
    ],
)
def test_distances_reject_incomparable_counts(distance, reference: list, live: list, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        distance(reference, live)
    assert str(exc.value) == message


def test_quantile_edges_of_0_to_100_in_ten_bins_are_the_tens() -> None:
    assert quantile_edges(np.arange(101), 10) == [float(edge) for edge in range(0, 101, 10)]


def test_quantile_edges_are_strictly_increasing_floats() -> None:
    edges = quantile_edges(np.random.default_rng(3).normal(size=1000), 7)

    assert len(edges) == 8
    assert all(isinstance(edge, float) for edge in edges)
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))


def test_quantile_edges_of_a_constant_column_is_one_edge() -> None:
    assert quantile_edges([4.5] * 20, 10) == [4.5]


def test_quantile_edges_deduplicate_repeated_quantiles() -> None:
    # Quantile positions 0, 1.8, 3.6, 5.4 all fall on the zeros; 7.2 lies a fifth of the way from 0 to 1.
    assert quantile_edges([0, 0, 0, 0, 0, 0, 0, 0, 1, 2], 5) == pytest.approx([0.0, 0.2, 2.0], rel=1e-12)


def test_quantile_edges_ignore_nan_and_infinities() -> None:
    values = np.concatenate([np.arange(101, dtype=float), [np.nan, np.inf, -np.inf, np.nan]])

    assert quantile_edges(values, 10) == quantile_edges(np.arange(101), 10)
    assert quantile_edges([np.nan, 2.0, np.inf], 4) == [2.0]


def test_quantile_edges_in_one_bin_are_min_and_max() -> None:
    assert quantile_edges([3, -1, 8, 2], 1) == [-1.0, 8.0]


@pytest.mark.parametrize("values", [[], [np.nan, np.inf, -np.inf]])
def test_quantile_edges_need_a_finite_value(values: list[float]) -> None:
    with pytest.raises(ValueError, match=re.escape("values contain no finite value")):
        quantile_edges(values, 10)


@pytest.mark.parametrize("bins", [0, -3])
def test_quantile_edges_need_at_least_one_bin(bins: int) -> None:
    with pytest.raises(ValueError, match=re.escape(f"bins must be at least 1, got {bins}")):
        quantile_edges([1.0, 2.0], bins)
