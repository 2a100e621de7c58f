"""Binning rows and predictions into a reference profile's bins, vectorised over a whole batch.

One code path bins the reference data when a profile is built and the live rows in every replica, so the two
sides can never disagree on a bin boundary. All numeric features are binned in one broadcast comparison against a
padded edge matrix and counted with one `bincount`; only categorical columns (rare) take a per-column lookup.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from monitoring.profile import CategoricalFeature, NumericFeature, PredictionProfile, ReferenceProfile


class Binner:
    """Bins for one profile. Feature counts are one flat int64 vector: each feature's bins in profile order."""

    def __init__(self, profile: ReferenceProfile) -> None:
        self.sizes = [feature.bins for feature in profile.features]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.total = int(sum(self.sizes))
        self._numeric = [i for i, f in enumerate(profile.features) if isinstance(f, NumericFeature)]
        self._categorical = [
            (i, {name: code for code, name in enumerate(f.categories)})
            for i, f in enumerate(profile.features)
            if isinstance(f, CategoricalFeature)
        ]
        self.has_categorical = bool(self._categorical)
        edges = [profile.features[i].edges for i in self._numeric]
        self._all_numeric = len(self._numeric) == len(self.sizes)
        self._lower, self._top = _edge_matrix(edges)
        self._overflow = np.asarray([self.sizes[i] - 1 for i in self._numeric], dtype=np.int64)
        self._predictions = _PredictionBins(profile.predictions) if profile.predictions is not None else None

    @property
    def width(self) -> int:
        """Columns a row must have."""
        return len(self.sizes)

    def feature_counts(self, values: np.ndarray) -> np.ndarray:
        """Rows per bin of every feature for a (rows x features) array, as one flat vector of `total` counts."""
        if values.ndim != 2 or values.shape[1] != self.width:
            raise ValueError(f"expected rows of {self.width} features, got an array of shape {values.shape}")
        if self._all_numeric:  # the usual case: no column copies, no per-column work
            codes = _codes(np.asarray(values, dtype=float), self._lower, self._top, self._overflow)
            return np.bincount((codes + self.offsets).ravel(), minlength=self.total)
        codes = np.empty(values.shape, dtype=np.int64)
        if self._numeric:
            codes[:, self._numeric] = self._numeric_codes(values[:, self._numeric].astype(float))
        for column, vocabulary in self._categorical:
            other = len(vocabulary)
            codes[:, column] = [vocabulary.get(str(value), other) for value in values[:, column]]
        return np.bincount((codes + self.offsets).ravel(), minlength=self.total)

    def split_features(self, counts: np.ndarray) -> list[np.ndarray]:
        """The flat vector cut back into one count vector per feature."""
        return np.split(np.asarray(counts), np.cumsum(self.sizes)[:-1])

    def prediction_counts(
        self, predictions: np.ndarray, probabilities: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Class counts (classes then 'other') and score-bin counts, each None where the profile has none."""
        if self._predictions is None:
            return None, None
        return self._predictions.counts(predictions, probabilities)

    def _numeric_codes(self, values: np.ndarray) -> np.ndarray:
        return _codes(values, self._lower, self._top, self._overflow)


def _edge_matrix(edges: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Every feature's edges but its top one, padded with +inf to one width, and the top edges."""
    width = max((len(e) - 1 for e in edges), default=0)
    lower = np.full((len(edges), max(width, 1)), np.inf)
    for row, feature_edges in enumerate(edges):
        lower[row, : len(feature_edges) - 1] = feature_edges[:-1]
    top = np.asarray([e[-1] for e in edges], dtype=float)
    return lower, top


def _codes(values: np.ndarray, lower: np.ndarray, top: np.ndarray, overflow: np.ndarray) -> np.ndarray:
    # Bin i (1-based) holds edge[i-1] <= v < edge[i]; the last inner bin is closed at the top edge; below the
    # first edge is bin 0, above the top edge (or NaN, which compares false everywhere) the overflow bin.
    codes = (values[:, :, None] >= lower[None, :, :]).sum(axis=2)
    return np.where(~(values <= top[None, :]), overflow[None, :], codes)


class _PredictionBins:
    """Class and score bins of a profile's predictions, prepared once."""

    def __init__(self, profile: PredictionProfile) -> None:
        self._score = profile.score if profile.score_edges is not None else None
        if self._score is not None:
            self._score_edges = np.asarray(profile.score_edges, dtype=float)
        self._classes = profile.classes
        self._index: dict[Any, int] = {label: code for code, label in enumerate(profile.classes or [])}
        # Numeric labels (the usual case) are looked up with one searchsorted instead of a dict per row.
        numeric = self._classes is not None and all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in self._classes
        )
        self._sorted = np.sort(np.asarray(self._classes, dtype=float)) if numeric else None
        self._order = np.argsort(np.asarray(self._classes, dtype=float)) if numeric else None

    def counts(
        self, predictions: np.ndarray, probabilities: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self._class_counts(np.asarray(predictions)), self._score_counts(predictions, probabilities)

    def _class_counts(self, predictions: np.ndarray) -> np.ndarray | None:
        if self._classes is None or predictions.ndim != 1:
            return None  # a model answering with vectors (raw PyTorch outputs) has no class to count
        other = len(self._classes)
        if self._sorted is not None and predictions.dtype.kind in "iuf":
            position = np.minimum(np.searchsorted(self._sorted, predictions), other - 1)
            found = self._sorted[position] == predictions
            codes = np.where(found, self._order[position], other)
        else:
            codes = np.asarray([self._index.get(label, other) for label in predictions.tolist()], dtype=np.int64)
        return np.bincount(codes, minlength=other + 1)

    def _score_counts(self, predictions: np.ndarray, probabilities: np.ndarray | None) -> np.ndarray | None:
        if self._score is None:
            return None
        if self._score == "max_probability":
            if probabilities is None:
                return None
            scores = np.asarray(probabilities, dtype=float).max(axis=1)
        else:
            scores = np.asarray(predictions, dtype=float).ravel()
        # One vector: searchsorted is the same layout as `_codes` (edge[i-1] <= v < edge[i], the top edge closed,
        # above it or NaN the overflow bin) at a fraction of the broadcast's cost.
        edges = self._score_edges
        codes = np.searchsorted(edges[:-1], scores, side="right")
        codes[~(scores <= edges[-1])] = len(edges)
        return np.bincount(codes, minlength=len(edges) + 1)
