"""monitoring.windows.SlidingWindow with an injected clock: bucketing, expiry by age, the row bound, memory."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from monitoring.windows import SlidingWindow, WindowCounts

pytestmark = pytest.mark.unit


def window(bucket_s: float = 10.0, window_s: float = 60.0, window_rows: int = 1_000) -> SlidingWindow:
    return SlidingWindow(bucket_s=bucket_s, window_s=window_s, window_rows=window_rows)


def vector(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_an_empty_window_snapshots_to_nothing() -> None:
    snap = window().snapshot(100.0)

    assert snap == WindowCounts(rows=0, counts={}, start_s=None, end_s=100.0, buckets=0)


def test_adds_within_one_bucket_sum_element_wise() -> None:
    w = window()
    w.add(100.0, 3, {"a": vector(1, 2, 0)})
    w.add(109.9, 2, {"a": vector(0, 1, 1), "b": vector(5)})

    snap = w.snapshot(109.9)

    assert (snap.rows, snap.buckets, snap.start_s, snap.end_s) == (5, 1, 100.0, 109.9)
    assert snap.counts.keys() == {"a", "b"}
    np.testing.assert_array_equal(snap.counts["a"], vector(1, 3, 1))
    np.testing.assert_array_equal(snap.counts["b"], vector(5))
    assert snap.counts["a"].dtype == np.int64
    assert w.bucket_count == 1


def test_bucket_boundaries_follow_floor_of_time_over_bucket() -> None:
    w = window()
    w.add(99.999, 1, {})  # bucket 9, starts at 90
    w.add(100.0, 1, {})  # bucket 10, starts at 100
    w.add(-0.5, 1, {})  # bucket -1, starts at -10: expired long ago relative to 100, so dropped

    assert w.bucket_count == 2
    assert w.snapshot(100.0).start_s == 90.0


def test_snapshot_sums_across_buckets_and_keeps_the_window_unchanged() -> None:
    w = window()
    w.add(0.0, 1, {"a": vector(1, 0)})
    w.add(15.0, 2, {"a": vector(0, 2)})
    w.add(25.0, 4, {"b": vector(7, 7, 7)})

    first, second = w.snapshot(25.0), w.snapshot(25.0)

    assert (first.rows, first.buckets, first.start_s) == (7, 3, 0.0)
    np.testing.assert_array_equal(first.counts["a"], vector(1, 2))
    np.testing.assert_array_equal(first.counts["b"], vector(7, 7, 7))
    np.testing.assert_array_equal(second.counts["a"], first.counts["a"])
    assert second.rows == first.rows


def test_buckets_expire_by_age_as_the_injected_clock_advances() -> None:
    w = window(bucket_s=10.0, window_s=30.0)
    w.add(0.0, 1, {"a": vector(1)})  # bucket start 0
    w.add(10.0, 2, {"a": vector(2)})  # bucket start 10
    w.add(20.0, 4, {"a": vector(4)})  # bucket start 20

    # The cut-off is now_s - window_s; a bucket whose start is at or after it stays.
    assert w.snapshot(30.0).rows == 7
    snap = w.snapshot(35.0)
    assert (snap.rows, snap.start_s, snap.buckets) == (6, 10.0, 2)
    np.testing.assert_array_equal(snap.counts["a"], vector(6))
    assert w.bucket_count == 2

    assert w.snapshot(50.0).rows == 4
    empty = w.snapshot(51.0)
    assert (empty.rows, empty.start_s, empty.buckets, empty.counts) == (0, None, 0, {})
    assert w.bucket_count == 0


def test_expired_buckets_are_gone_for_good() -> None:
    w = window(bucket_s=10.0, window_s=30.0)
    w.add(0.0, 5, {})
    w.snapshot(100.0)

    # Even asking about an earlier time does not bring them back.
    assert w.snapshot(5.0).rows == 0
    assert w.bucket_count == 0


def test_the_row_bound_takes_only_the_newest_buckets() -> None:
    w = window(bucket_s=10.0, window_s=100.0, window_rows=10)
    w.add(0.0, 8, {"a": vector(8, 0)})
    w.add(10.0, 6, {"a": vector(0, 6)})
    w.add(20.0, 5, {"a": vector(5, 0)})

    snap = w.snapshot(25.0)

    # Newest first: 5 rows (< 10), then 6 more reach 11 >= 10, so the oldest bucket is left out.
    assert (snap.rows, snap.buckets, snap.start_s) == (11, 2, 10.0)
    np.testing.assert_array_equal(snap.counts["a"], vector(5, 6))
    assert w.bucket_count == 3  # left out of the snapshot, but not expired


def test_the_row_bound_is_reached_exactly_by_the_newest_bucket() -> None:
    w = window(window_rows=4)
    w.add(0.0, 3, {})
    w.add(10.0, 4, {})

    snap = w.snapshot(10.0)

    assert (snap.rows, snap.buckets, snap.start_s) == (4, 1, 10.0)


def test_memory_stays_bounded_by_the_window() -> None:
    w = window(bucket_s=10.0, window_s=35.0)
    bound = math.ceil(35.0 / 10.0) + 1

    seen = []
    for second in range(0, 1_000, 3):
        w.add(float(second), 1, {"a": vector(1, 1)})
        seen.append(w.bucket_count)

    assert max(seen) <= bound
    assert w.max_buckets == bound
    # The cut-off is 999 - 35 = 964, so the buckets from 970 on are in.
    assert w.snapshot(999.0).rows == sum(1 for second in range(0, 1_000, 3) if second >= 970)


def test_memory_bound_with_a_window_of_one_bucket() -> None:
    w = window(bucket_s=1.0, window_s=1.0)
    for tenth in range(100):
        w.add(tenth / 10, 1, {})
        assert w.bucket_count <= 2


def test_buckets_follow_fractional_bucket_sizes() -> None:
    w = window(bucket_s=0.5, window_s=1.0)
    for at in (0.0, 0.49, 0.5, 0.99, 1.0, 1.49):
        w.add(at, 1, {})

    snap = w.snapshot(1.49)

    # Cut-off 0.49: the bucket starting at 0.0 is out; 0.5 and 1.0 are in.
    assert (snap.rows, snap.buckets, snap.start_s) == (4, 2, 0.5)


def test_a_length_change_under_a_key_is_rejected_and_changes_nothing() -> None:
    w = window()
    w.add(0.0, 1, {"a": vector(1, 1, 1)})

    with pytest.raises(ValueError) as exc:
        w.add(1.0, 1, {"b": vector(2), "a": vector(1, 1)})

    assert str(exc.value) == "counts['a'] has length 2, expected 3 (clear() after a profile change)"
    snap = w.snapshot(1.0)
    assert (snap.rows, snap.counts.keys()) == (1, {"a"})


def test_the_length_is_remembered_after_the_buckets_expire() -> None:
    w = window(bucket_s=10.0, window_s=10.0)
    w.add(0.0, 1, {"a": vector(1, 1, 1)})
    assert w.snapshot(100.0).rows == 0

    with pytest.raises(ValueError, match=re.escape("counts['a'] has length 1, expected 3")):
        w.add(100.0, 1, {"a": vector(1)})


def test_clear_forgets_buckets_and_lengths() -> None:
    w = window()
    w.add(0.0, 4, {"a": vector(1, 2, 3)})
    w.clear()

    assert w.bucket_count == 0
    assert w.snapshot(0.0).rows == 0
    w.add(1.0, 2, {"a": vector(5, 5)})  # a new profile, a new length
    np.testing.assert_array_equal(w.snapshot(1.0).counts["a"], vector(5, 5))


def test_zero_rows_with_no_counts_is_a_no_op() -> None:
    w = window()
    w.add(5.0, 0, {})

    assert w.bucket_count == 0
    assert w.snapshot(5.0) == WindowCounts(rows=0, counts={}, start_s=None, end_s=5.0, buckets=0)


def test_the_window_does_not_alias_the_callers_arrays() -> None:
    w = window()
    mine = vector(1, 2)
    w.add(0.0, 1, {"a": mine})
    mine[:] = 100
    snap = w.snapshot(0.0)

    np.testing.assert_array_equal(snap.counts["a"], vector(1, 2))
    with pytest.raises(ValueError, match="read-only"):
        snap.counts["a"][0] = 9
    w.add(0.0, 1, {"a": vector(1, 1)})
    np.testing.assert_array_equal(snap.counts["a"], vector(1, 2))


def test_lists_are_accepted_as_count_vectors() -> None:
    w = window()
    w.add(0.0, 2, {"a": [1, 2]})  # type: ignore[dict-item]

    assert w.snapshot(0.0).counts["a"].dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bucket_s": 0.0}, "bucket_s must be positive and finite, got 0.0"),
        ({"bucket_s": -1.0}, "bucket_s must be positive and finite, got -1.0"),
        ({"bucket_s": math.inf}, "bucket_s must be positive and finite, got inf"),
        ({"window_s": 5.0}, "window_s must be finite and at least bucket_s (10.0), got 5.0"),
        ({"window_s": math.inf}, "window_s must be finite and at least bucket_s (10.0), got inf"),
        ({"window_rows": 0}, "window_rows must be at least 1, got 0"),
    ],
)
def test_bad_construction_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        window(**kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("now_s", "rows", "counts", "message"),
    [
        (0.0, -1, {}, "rows must be non-negative, got -1"),
        (math.nan, 1, {}, "now_s must be finite, got nan"),
        (0.0, 1, {"a": np.zeros((2, 2), dtype=np.int64)}, "counts['a'] must be one-dimensional, got shape (2, 2)"),
    ],
)
def test_bad_add_arguments_are_named(now_s: float, rows: int, counts: dict, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        window().add(now_s, rows, counts)
    assert str(exc.value) == message


def test_snapshot_rejects_a_non_finite_time() -> None:
    with pytest.raises(ValueError, match=re.escape("now_s must be finite, got inf")):
        window().snapshot(math.inf)


def test_a_float_window_sums_real_values_and_keeps_its_dtype() -> None:
    w = SlidingWindow(bucket_s=10.0, window_s=30.0, window_rows=1_000, dtype=np.float64)
    w.add(0.0, 1, {"errors": [0.25, 0.0625]})
    w.add(5.0, 2, {"errors": np.array([1.5, 2.25])})
    w.add(25.0, 1, {"errors": [0.125, 0.015625]})

    snap = w.snapshot(25.0)
    assert snap.counts["errors"].dtype == np.float64
    np.testing.assert_array_equal(snap.counts["errors"], [1.875, 2.328125])  # exact: binary fractions
    assert snap.rows == 4
    np.testing.assert_array_equal(w.snapshot(35.0).counts["errors"], [0.125, 0.015625])  # the first bucket expired


def test_a_float_window_rejects_non_finite_values_and_changes_nothing() -> None:
    w = SlidingWindow(bucket_s=10.0, window_s=30.0, window_rows=1_000, dtype=np.float64)
    w.add(0.0, 1, {"errors": [1.0]})

    with pytest.raises(ValueError) as exc:
        w.add(1.0, 1, {"errors": [math.nan]})

    assert str(exc.value) == "counts['errors'] must be finite, got [nan]"
    assert w.snapshot(1.0).rows == 1


def test_only_int64_and_float64_vectors_are_windowed() -> None:
    with pytest.raises(ValueError) as exc:
        SlidingWindow(bucket_s=10.0, window_s=30.0, window_rows=10, dtype=np.float32)

    assert str(exc.value) == "dtype must be int64 or float64, got float32"
    assert window().dtype == np.int64
