"""The one histogram: the gateway records latency and batch sizes into it, the stats endpoint sends it, and the
rollout analysis reads its quantiles.

Counts are per bucket, so recording a value is one increment: `counts[i]` holds the observations in
(bounds[i-1], bounds[i]] (the first bucket starts at 0) and the last count those above every bound. The
Prometheus export uses the same bounds, and `quantile` interpolates within a bucket as Prometheus'
`histogram_quantile` does, so a dashboard's quantile over an interval is the figure the rollout analysis judges.

Pure (pydantic only): the rollout core imports it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Histogram(BaseModel):
    """Counts of observed values per bucket, since the counters started."""

    model_config = ConfigDict(extra="forbid")

    bounds: list[float] = Field(description="Upper bounds of the buckets, ascending, in the observed unit (e.g. ms).")
    counts: list[int] = Field(
        description="Observations per bucket, each in (previous bound, bound]; one more entry than `bounds`: "
        "the last counts those above every bound."
    )
    sum: float = Field(0.0, description="Sum of all observed values.")
    count: int = Field(0, description="Number of observations (the sum of `counts`).")

    @model_validator(mode="after")
    def _consistent(self) -> Histogram:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError(f"{len(self.bounds)} bounds need {len(self.bounds) + 1} counts, got {len(self.counts)}")
        if any(lower >= upper for lower, upper in itertools.pairwise(self.bounds)):
            raise ValueError("bounds must be strictly ascending")
        if self.count != sum(self.counts):
            raise ValueError(f"count ({self.count}) must equal the sum of counts ({sum(self.counts)})")
        return self

    @classmethod
    def empty(cls, bounds: Sequence[float]) -> Histogram:
        return cls(bounds=list(bounds), counts=[0] * (len(bounds) + 1))

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def merged(self, other: Histogram) -> Histogram:
        """Both histograms' observations together (e.g. two gateway replicas')."""
        if other.bounds != self.bounds:
            raise ValueError("cannot merge histograms with different bounds")
        counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        return Histogram(bounds=self.bounds, counts=counts, sum=self.sum + other.sum, count=self.count + other.count)

    def minus(self, earlier: Histogram) -> Histogram:
        """Observations made since `earlier`, an earlier snapshot of the same counters. An `earlier` with other
        bounds is not one these counters continue: everything counts as new. A bucket that went down (its share
        of a lost replica's counters) counts none, never a negative number."""
        if earlier.bounds != self.bounds:
            return self.model_copy(deep=True)
        counts = [max(a - b, 0) for a, b in zip(self.counts, earlier.counts, strict=True)]
        return Histogram(bounds=self.bounds, counts=counts, sum=self.sum - earlier.sum, count=sum(counts))

    def quantile(self, q: float) -> float | None:
        """The q-quantile, interpolated linearly within its bucket like Prometheus' `histogram_quantile`; one in
        the overflow bucket reports the last bound. None without observations or bounds."""
        if self.count <= 0 or not self.bounds:
            return None
        rank = q * self.count
        lower_bound, below = 0.0, 0
        for bound, in_bucket in zip(self.bounds, self.counts, strict=False):  # the overflow count has no bound
            if below + in_bucket >= rank:
                if in_bucket <= 0:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - below) / in_bucket
            lower_bound, below = bound, below + in_bucket
        return self.bounds[-1]
