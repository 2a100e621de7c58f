"""The one histogram (`deployments/histogram.py`): recording, merging, deltas and quantiles against hand-computed
values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deployments.histogram import Histogram

# Cumulative 50, 90 and 100 observations at or below 10, 20 and 50 ms.
LATENCY = Histogram(bounds=[10, 20, 50], counts=[50, 40, 10, 0], count=100)


@pytest.mark.parametrize(("q", "expected"), [(0.5, 10.0), (0.9, 20.0), (0.99, 47.0), (0.25, 5.0)])
def test_quantile_interpolates_within_bucket(q: float, expected: float) -> None:
    assert LATENCY.quantile(q) == pytest.approx(expected)


def test_quantile_above_last_bound_reports_that_bound() -> None:
    # As Prometheus' histogram_quantile does: the overflow bucket has no upper bound to interpolate to.
    assert Histogram(bounds=[10], counts=[50, 50], count=100).quantile(0.99) == 10


def test_quantile_without_data() -> None:
    assert Histogram.empty((10, 20, 50)).quantile(0.99) is None
    assert Histogram(bounds=[], counts=[10], count=10).quantile(0.99) is None


def test_values_fall_in_the_bucket_of_the_first_bound_at_or_above_them() -> None:
    histogram = Histogram.empty((1, 10, 100))
    for value in (0.5, 1, 5, 100, 1000):
        histogram.observe(value)
    assert (histogram.counts, histogram.count, histogram.sum) == ([2, 1, 1, 1], 5, 1106.5)


def test_quantiles_from_deltas() -> None:
    before = Histogram.empty((1, 10, 100))
    after = before.model_copy(deep=True)
    for value in [0.5] * 50 + [5] * 49 + [50]:
        after.observe(value)
    delta = after.minus(before)
    assert (delta.quantile(0.5), delta.quantile(0.99), delta.quantile(1.0)) == (1, 10, 100)
    after.observe(1000)
    assert after.quantile(1.0) == 100  # above every bound: the last bound, as in test_quantile_above_last_bound


def test_deltas_never_go_negative_and_other_bounds_start_afresh() -> None:
    before = Histogram(bounds=[1, 10], counts=[5, 0, 0], count=5)
    after = Histogram(bounds=[1, 10], counts=[3, 4, 0], count=7)  # a lost replica's share of the first bucket
    assert after.minus(before).counts == [0, 4, 0]
    assert after.minus(Histogram.empty(())) == after


def test_merging_adds_replicas_and_needs_the_same_bounds() -> None:
    one = Histogram(bounds=[1, 10], counts=[1, 2, 0], sum=11.0, count=3)
    assert one.merged(one) == Histogram(bounds=[1, 10], counts=[2, 4, 0], sum=22.0, count=6)
    with pytest.raises(ValueError, match="different bounds"):
        one.merged(Histogram.empty((1,)))


@pytest.mark.parametrize(
    ("bounds", "counts", "count"),
    [([1, 10], [1, 2], 3), ([10, 1], [1, 2, 0], 3), ([1, 10], [1, 2, 0], 4)],
)
def test_inconsistent_histograms_are_refused(bounds: list[float], counts: list[int], count: int) -> None:
    with pytest.raises(ValidationError):
        Histogram(bounds=bounds, counts=counts, count=count)
