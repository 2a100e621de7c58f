"""What a version replica keeps of the traffic it predicts: counts per reference bin, never the rows themselves.

`Sketch.observe` bins one vectorised model call (features, predictions, probabilities) and adds the counts to
cumulative totals. `SketchCounts` is the mergeable unit: counts from replicas and time buckets add element-wise.
A replica pushes its cumulative totals; the monitor takes differences, so a lost push loses nothing.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from monitoring.binning import Binner
from monitoring.contract import Strict
from monitoring.profile import ReferenceProfile

FEATURES, CLASSES, SCORES = "features", "classes", "scores"


class SketchCounts(Strict):
    """Cumulative counts of one replica (or a sum of them), in the profile's bin layout."""

    rows: int = Field(ge=0, description="Rows binned.")
    features: list[int] = Field(description="Flat per-feature bin counts, features in profile order.")
    classes: list[int] | None = Field(description="Predicted rows per class, then 'other'; null: no classes.")
    scores: list[int] | None = Field(description="Predicted rows per score bin; null: no score histogram.")

    def vectors(self) -> dict[str, np.ndarray]:
        """The named count vectors (what a sliding window adds up)."""
        named = {FEATURES: self.features, CLASSES: self.classes, SCORES: self.scores}
        return {key: np.asarray(value, dtype=np.int64) for key, value in named.items() if value is not None}


class Sketch:
    """Cumulative bin counts for one version replica."""

    def __init__(self, profile: ReferenceProfile) -> None:
        self._binner = Binner(profile)
        self.rows = 0
        self._features = np.zeros(self._binner.total, dtype=np.int64)
        self._classes: np.ndarray | None = None
        self._scores: np.ndarray | None = None

    def observe(self, values: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray | None) -> None:
        """Add one model call's rows. Rows whose width does not match the profile are not counted."""
        if values.ndim != 2 or values.shape[1] != self._binner.width:
            return
        self._features += self._binner.feature_counts(values)
        classes, scores = self._binner.prediction_counts(predictions, probabilities)
        self._classes = _add(self._classes, classes)
        self._scores = _add(self._scores, scores)
        self.rows += int(values.shape[0])

    def snapshot(self) -> SketchCounts:
        return SketchCounts(
            rows=self.rows,
            features=self._features.tolist(),
            classes=None if self._classes is None else self._classes.tolist(),
            scores=None if self._scores is None else self._scores.tolist(),
        )


def _add(total: np.ndarray | None, counts: np.ndarray | None) -> np.ndarray | None:
    if counts is None:
        return total
    return counts.astype(np.int64) if total is None else total + counts
