"""A sliding window of binned counts over time buckets, bounded both by age (seconds) and by size (rows), so drift
is scored on recent traffic only. Pure: the caller passes the time (`now_s`), nothing here reads a clock.

The vectors are int64 counts by default; a float64 window sums real values instead (a regressor's errors)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

# The vector types a window may sum: exact counts, or real-valued sums.
DTYPES = (np.dtype(np.int64), np.dtype(np.float64))


@dataclass(frozen=True)
class WindowCounts:
    """The counts of the buckets a snapshot covers, summed."""

    rows: int
    counts: dict[str, np.ndarray]
    start_s: float | None
    end_s: float
    buckets: int


@dataclass
class _Bucket:
    rows: int = 0
    counts: dict[str, np.ndarray] = field(default_factory=dict)


class SlidingWindow:
    """Count vectors (one per key, fixed length per key) summed per time bucket of `bucket_s` seconds; a snapshot
    sums the newest buckets no older than `window_s`, stopping once they hold `window_rows` rows.

    Times are expected not to go backwards: a late `add` into a bucket that has already expired is dropped.
    `dtype` is the vectors' type: int64 (counts, the default) or float64 (sums of real values, which must be finite).
    """

    def __init__(
        self, bucket_s: float, window_s: float, window_rows: int, dtype: type[np.generic] | np.dtype = np.int64
    ) -> None:
        if not (math.isfinite(bucket_s) and bucket_s > 0):
            raise ValueError(f"bucket_s must be positive and finite, got {bucket_s}")
        if not (math.isfinite(window_s) and window_s >= bucket_s):
            raise ValueError(f"window_s must be finite and at least bucket_s ({bucket_s}), got {window_s}")
        if window_rows < 1:
            raise ValueError(f"window_rows must be at least 1, got {window_rows}")
        if np.dtype(dtype) not in DTYPES:
            raise ValueError(f"dtype must be int64 or float64, got {np.dtype(dtype)}")
        self.dtype = np.dtype(dtype)
        self.bucket_s, self.window_s, self.window_rows = bucket_s, window_s, window_rows
        self.max_buckets = math.ceil(window_s / bucket_s) + 1
        self._buckets: dict[int, _Bucket] = {}
        self._lengths: dict[str, int] = {}
        self._latest_s: float | None = None

    @property
    def bucket_count(self) -> int:
        """Buckets held in memory (at most `max_buckets`)."""
        return len(self._buckets)

    def add(self, now_s: float, rows: int, counts: Mapping[str, np.ndarray]) -> None:
        """Add `rows` and each count vector, element-wise, into the bucket holding `now_s`."""
        _check_time(now_s)
        if rows < 0:
            raise ValueError(f"rows must be non-negative, got {rows}")
        vectors = {key: np.asarray(vector, dtype=self.dtype) for key, vector in counts.items()}
        # Everything is checked before anything is added, so a rejected call leaves the window as it was.
        for key, vector in vectors.items():
            if vector.ndim != 1:
                raise ValueError(f"counts[{key!r}] must be one-dimensional, got shape {vector.shape}")
            expected = self._lengths.get(key, vector.size)
            if vector.size != expected:
                raise ValueError(
                    f"counts[{key!r}] has length {vector.size}, expected {expected} (clear() after a profile change)"
                )
            # One NaN would poison every snapshot until its bucket expired.
            if self.dtype.kind == "f" and not np.isfinite(vector).all():
                raise ValueError(f"counts[{key!r}] must be finite, got {vector.tolist()}")
        if rows == 0 and not vectors:
            return
        self._expire(now_s)
        index = math.floor(now_s / self.bucket_s)
        if not self._keeps(index):
            return
        bucket = self._buckets.setdefault(index, _Bucket())
        bucket.rows += rows
        for key, vector in vectors.items():
            self._lengths.setdefault(key, vector.size)
            if key in bucket.counts:
                bucket.counts[key] += vector
            else:
                bucket.counts[key] = vector.copy()
        self._cap()

    def snapshot(self, now_s: float) -> WindowCounts:
        """The sum of the newest buckets started within the last `window_s` seconds, newest first, stopping as soon
        as they hold `window_rows` rows."""
        _check_time(now_s)
        self._expire(now_s)
        newest = math.floor(now_s / self.bucket_s)
        counts: dict[str, np.ndarray] = {}
        rows, start_s, taken = 0, None, 0
        for index in sorted((i for i in self._buckets if i <= newest), reverse=True):
            if rows >= self.window_rows:
                break
            bucket = self._buckets[index]
            rows += bucket.rows
            for key, vector in bucket.counts.items():
                counts[key] = counts[key] + vector if key in counts else vector.copy()
            start_s, taken = index * self.bucket_s, taken + 1
        for vector in counts.values():
            vector.setflags(write=False)  # the snapshot is frozen; so are its arrays
        return WindowCounts(rows=rows, counts=counts, start_s=start_s, end_s=now_s, buckets=taken)

    def series(self, now_s: float) -> list[WindowCounts]:
        """Every bucket started within the last `window_s` seconds on its own, oldest first (for plotting a figure
        over time; not bounded by `window_rows`)."""
        _check_time(now_s)
        self._expire(now_s)
        newest = math.floor(now_s / self.bucket_s)
        return [
            WindowCounts(
                rows=self._buckets[index].rows,
                counts={key: vector.copy() for key, vector in self._buckets[index].counts.items()},
                start_s=index * self.bucket_s,
                end_s=(index + 1) * self.bucket_s,
                buckets=1,
            )
            for index in sorted(i for i in self._buckets if i <= newest)
        ]

    def clear(self) -> None:
        """Forget every bucket and every key's vector length."""
        self._buckets.clear()
        self._lengths.clear()
        self._latest_s = None

    def _keeps(self, index: int) -> bool:
        assert self._latest_s is not None
        return index * self.bucket_s >= self._latest_s - self.window_s

    def _expire(self, now_s: float) -> None:
        # Expiry follows the latest time seen, so an out-of-order call cannot bring old buckets back into memory.
        self._latest_s = now_s if self._latest_s is None else max(self._latest_s, now_s)
        for index in [i for i in self._buckets if not self._keeps(i)]:
            del self._buckets[index]

    def _cap(self) -> None:
        # Float rounding at the age cut-off could keep one bucket too many; the bound holds regardless.
        for index in sorted(self._buckets)[: max(0, len(self._buckets) - self.max_buckets)]:
            del self._buckets[index]


def _check_time(now_s: float) -> None:
    if not math.isfinite(now_s):
        raise ValueError(f"now_s must be finite, got {now_s}")
