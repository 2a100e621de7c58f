"""Live accuracy of one model version over a sliding window of joined labels (pure).

An `AccuracyWindow` takes the `JoinedLabel`s of one version (`monitoring.labels`) as their labels arrive and reports
on the newest of them: a classifier's accuracy and per-class recall, a regressor's MAE and RMSE, and how long the
labels took to come. The window is `LabelSpec.window` (in labelled rows and seconds, bucketed by when the label
arrived, not when the prediction was served); fewer labelled rows than `min_labels` is "insufficient labels" and
no figure. Time is always an argument.

How a label is compared with its prediction, as both were served: numbers compare numerically (`1 == 1.0 == True`,
so a boolean classifier's `True` matches a label `1`), strings exactly, and a string never equals a number (`"1"`
is not `1`); a prediction of any other kind (a list, a dict, None) matches nothing. A classifier's classes are the
true labels seen so far, in the order first seen, the same numeric/string identity deciding which are one class;
after `MAX_CLASSES` further labels still count towards accuracy but get no recall of their own. A regressor's row
whose label or prediction is not a finite number (or whose error overflows) is skipped and counted as such.

The label delay histogram counts label items (one per joined request, whatever its rows), per bucket: `counts[i]`
holds delays in (bounds[i-1], bounds[i]] (the first from minus infinity: a clock skew between gateway replicas can
make a delay negative), `overflow` those above the last bound, the same layout as `deployments.histogram`.

Comparing two versions' accuracy is `rollout.core.analysis.two_proportion_z_test(correct_a, labels_a, correct_b,
labels_b)` on two reports' `correct` and `labels` (monitoring may not import rollout, and needs no second copy).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import Field

from monitoring.contract import Strict
from monitoring.labels import JoinedLabel
from monitoring.spec import LabelSpec, Task, WindowSpec
from monitoring.windows import SlidingWindow, WindowCounts

DELAY_BOUNDS_S = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
MAX_CLASSES = 1000
# Classes share count vectors in chunks: a 3-class model keeps one small vector per bucket, a 1000-class one 16.
CLASS_CHUNK = 64

_CORRECT, _ERRORS, _SKIPPED, _DELAY, _CLASSES = "correct", "errors", "skipped", "delay", "classes/"
_FIGURES = ("accuracy", "correct", "per_class_recall", "mae", "rmse")


class LabelVerdict(StrEnum):
    """What a window of labels says about a version."""

    INSUFFICIENT = "insufficient labels"
    OK = "ok"


class AccuracyReport(Strict):
    """A version's live accuracy over the label window."""

    task: Task = Field(description="classification or regression: which figures below are set.")
    labels: int = Field(description="Labelled rows in the window (a regressor's skipped rows excluded).")
    min_labels: int = Field(description="Labelled rows a window needs for a figure.")
    verdict: LabelVerdict = Field(description="insufficient labels or ok.")
    accuracy: float | None = Field(description="Correct rows / labelled rows; null unless a classifier's ok window.")
    correct: int | None = Field(description="Rows predicted correctly; null unless a classifier's ok window.")
    per_class_recall: dict[str, float] | None = Field(
        description="Per true class (str of the label, repr if two print alike) seen in the window: correct / "
        "labelled; null unless a classifier's ok window."
    )
    mae: float | None = Field(description="Mean absolute error; null unless a regressor's ok window.")
    rmse: float | None = Field(description="Root mean squared error; null unless a regressor's ok window.")
    skipped: int = Field(description="A regressor's rows in the window that could not be compared (always 0 else).")
    window_start_s: float | None = Field(description="Start of the oldest bucket in the window, Unix seconds.")
    delay_s: dict[str, Any] = Field(
        description="Label delay histogram over the window, per joined request: 'bounds' (seconds), 'counts' (one "
        "per bound, each in (previous bound, bound]) and 'overflow' (above the last bound)."
    )


class AccuracyPoint(Strict):
    """One time bucket of the label window."""

    start_s: float = Field(description="Bucket start, Unix seconds.")
    labels: int = Field(description="Labelled rows that arrived in the bucket.")
    accuracy: float | None = Field(description="Their accuracy (classification), else null.")
    mae: float | None = Field(description="Their mean absolute error (regression), else null.")


class AccuracyWindow:
    """The joined labels of one version, windowed: int64 counts for a classifier, float64 sums for a regressor."""

    def __init__(self, window: WindowSpec, task: Task) -> None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        dtype = np.int64 if task == "classification" else np.float64
        self.task: Task = task
        self._window = SlidingWindow(window.bucket_s, window.seconds, window.rows, dtype=dtype)
        self._classes: list[Any] = []
        self._index: dict[tuple[str, Any], int] = {}

    @classmethod
    def from_spec(cls, spec: LabelSpec, task: Task) -> AccuracyWindow:
        return cls(spec.window, task)

    @property
    def classes(self) -> list[Any]:
        """The true labels seen so far, first seen first (at most `MAX_CLASSES`)."""
        return list(self._classes)

    def add(self, joined: JoinedLabel, now_s: float) -> None:
        """Count one joined request's rows into the bucket of `now_s` (when its label arrived)."""
        if len(joined.predictions) != len(joined.labels):
            raise ValueError(
                f"request {joined.request_id!r} has {len(joined.predictions)} predictions "
                f"but {len(joined.labels)} labels"
            )
        if self.task == "classification":
            rows, counts = self._classification_counts(joined)
        else:
            rows, counts = _regression_counts(joined)
        counts[_DELAY] = _delay_vector(joined.delay_s)
        self._window.add(now_s, rows, counts)

    def report(self, now_s: float, min_labels: int) -> AccuracyReport:
        """The window's figures as of `now_s`; none below `min_labels` labelled rows."""
        if min_labels < 1:
            raise ValueError(f"min_labels must be at least 1, got {min_labels}")
        snap = self._window.snapshot(now_s)
        enough = snap.rows >= min_labels
        if not enough:
            figures = dict.fromkeys(_FIGURES)
        elif self.task == "classification":
            figures = self._classification_figures(snap)
        else:
            figures = _regression_figures(snap)
        return AccuracyReport(
            task=self.task,
            labels=snap.rows,
            min_labels=min_labels,
            verdict=LabelVerdict.OK if enough else LabelVerdict.INSUFFICIENT,
            **figures,
            skipped=int(_first(snap, _SKIPPED)),
            window_start_s=snap.start_s,
            delay_s=_delay_histogram(snap.counts.get(_DELAY)),
        )

    def series(self, now_s: float) -> list[AccuracyPoint]:
        """The window's buckets one by one, oldest first: accuracy (or MAE) over time."""
        points = []
        for bucket in self._window.series(now_s):
            if not bucket.rows:
                continue
            classification = self.task == "classification"
            points.append(
                AccuracyPoint(
                    start_s=bucket.start_s,
                    labels=bucket.rows,
                    accuracy=_first(bucket, _CORRECT) / bucket.rows if classification else None,
                    mae=None if classification else float(bucket.counts[_ERRORS][0]) / bucket.rows,
                )
            )
        return points

    def _classification_counts(self, joined: JoinedLabel) -> tuple[int, dict[str, np.ndarray]]:
        correct = 0
        chunks: dict[int, np.ndarray] = {}
        for prediction, label in zip(joined.predictions, joined.labels, strict=True):
            hit = same_value(prediction, label)
            correct += hit
            index = self._class_index(label)
            if index is not None:
                chunk = chunks.setdefault(index // CLASS_CHUNK, np.zeros(2 * CLASS_CHUNK, dtype=np.int64))
                chunk[index % CLASS_CHUNK] += 1
                chunk[CLASS_CHUNK + index % CLASS_CHUNK] += hit
        counts = {f"{_CLASSES}{chunk}": vector for chunk, vector in chunks.items()}
        counts[_CORRECT] = np.array([correct])
        return len(joined.labels), counts

    def _class_index(self, label: Any) -> int | None:
        key = _class_key(label)
        if key is None:
            return None
        index = self._index.get(key)
        if index is None and len(self._classes) < MAX_CLASSES:
            index = self._index[key] = len(self._classes)
            self._classes.append(label)
        return index

    def _classification_figures(self, snap: WindowCounts) -> dict[str, Any]:
        """The figures of a window with at least one labelled row."""
        correct = int(_first(snap, _CORRECT))
        return {
            "accuracy": correct / snap.rows,
            "correct": correct,
            "per_class_recall": self._recall(snap),
            "mae": None,
            "rmse": None,
        }

    def _recall(self, snap: WindowCounts) -> dict[str, float]:
        recall: dict[str, float] = {}
        for chunk in sorted(int(key.removeprefix(_CLASSES)) for key in snap.counts if key.startswith(_CLASSES)):
            vector = snap.counts[f"{_CLASSES}{chunk}"]
            for offset in np.flatnonzero(vector[:CLASS_CHUNK]):
                label = self._classes[chunk * CLASS_CHUNK + int(offset)]
                name = str(label) if str(label) not in recall else repr(label)  # "1" the string after 1 the number
                recall[name] = float(vector[CLASS_CHUNK + offset] / vector[offset])
        return recall


def same_value(prediction: Any, label: Any) -> bool:
    """Whether a served prediction equals its label: numbers numerically, strings exactly, nothing else."""
    if _is_number(prediction) and _is_number(label):
        return bool(prediction == label)
    return isinstance(prediction, str) and isinstance(label, str) and prediction == label


def infer_task(predictions: Sequence[Any]) -> Task | None:
    """A task from served predictions when the spec names none: any float makes a regressor, numbers that are all
    integers, booleans or strings a classifier; None without predictions. (A classifier serving float class labels
    such as 1.0 reads as a regressor: name the task in the spec, or read it from the version's profile.)"""
    if not predictions:
        return None
    floats = any(isinstance(value, float | np.floating) for value in predictions)
    return "regression" if floats else "classification"


def _regression_counts(joined: JoinedLabel) -> tuple[int, dict[str, np.ndarray]]:
    rows, skipped, absolute, squared = 0, 0, 0.0, 0.0
    for prediction, label in zip(joined.predictions, joined.labels, strict=True):
        error = _error(prediction, label)
        if error is None:
            skipped += 1
        else:
            rows, absolute, squared = rows + 1, absolute + abs(error), squared + error * error
    return rows, {_ERRORS: np.array([absolute, squared]), _SKIPPED: np.array([float(skipped)])}


def _error(prediction: Any, label: Any) -> float | None:
    """label - prediction when both are finite numbers and the squared error is too; else None."""
    truth, predicted = _real(label), _real(prediction)
    if truth is None or predicted is None:
        return None
    error = truth - predicted
    return error if math.isfinite(error * error) else None


def _regression_figures(snap: WindowCounts) -> dict[str, Any]:
    """The figures of a window with at least one labelled row."""
    absolute, squared = snap.counts[_ERRORS].tolist()
    return {
        "accuracy": None,
        "correct": None,
        "per_class_recall": None,
        "mae": absolute / snap.rows,
        "rmse": math.sqrt(squared / snap.rows),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real | np.bool_)


def _real(value: Any) -> float | None:
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        return None
    return number if math.isfinite(number) else None


def _class_key(label: Any) -> tuple[str, Any] | None:
    # Equal numbers hash alike (1, 1.0 and True are one key); the tag keeps the string "1" apart from them.
    if isinstance(label, str):
        return ("str", label)
    if _is_number(label) and _real(label) is not None:
        return ("number", label.item() if isinstance(label, np.generic) else label)
    return None


def _delay_vector(delay_s: float) -> np.ndarray:
    vector = np.zeros(len(DELAY_BOUNDS_S) + 1, dtype=np.int64)
    # A non-finite delay (it should not happen) is counted above every bound rather than lost.
    vector[bisect.bisect_left(DELAY_BOUNDS_S, delay_s) if math.isfinite(delay_s) else -1] += 1
    return vector


def _delay_histogram(vector: np.ndarray | None) -> dict[str, Any]:
    counts = [0] * (len(DELAY_BOUNDS_S) + 1) if vector is None else [int(count) for count in vector]
    return {"bounds": list(DELAY_BOUNDS_S), "counts": counts[:-1], "overflow": counts[-1]}


def _first(snap: WindowCounts, key: str) -> float:
    vector = snap.counts.get(key)
    return 0.0 if vector is None else vector[0].item()
