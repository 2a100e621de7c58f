"""monitoring.accuracy against hand-computed figures: accuracy, per-class recall, MAE and RMSE, insufficient
labels, the window forgetting old labels, the label delay histogram; and how labels compare with predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring import accuracy
from monitoring.accuracy import (
    DELAY_BOUNDS_S,
    AccuracyReport,
    AccuracyWindow,
    LabelVerdict,
    infer_task,
    same_value,
)
from monitoring.labels import JoinedLabel
from monitoring.spec import LabelSpec, WindowSpec
from rollout.core.analysis import two_proportion_z_test

pytestmark = pytest.mark.unit

WINDOW = WindowSpec(rows=100, seconds=60, bucket_s=10)
NO_DELAYS = {"bounds": list(DELAY_BOUNDS_S), "counts": [0] * 9, "overflow": 0}


def joined(predictions: list, labels: list, delay_s: float = 0.5, request_id: str = "r") -> JoinedLabel:
    return JoinedLabel(request_id=request_id, version="1", predictions=predictions, labels=labels, delay_s=delay_s)


def classifier(*pairs: tuple[list, list], now_s: float = 0.0, window: WindowSpec = WINDOW) -> AccuracyWindow:
    w = AccuracyWindow(window, "classification")
    for predictions, labels in pairs:
        w.add(joined(predictions, labels), now_s)
    return w


# --- classification ---


def test_accuracy_and_per_class_recall_are_hand_computed() -> None:
    # Rows (prediction -> label): cat->cat, dog->cat, cat->cat, dog->dog, cat->dog, bird->bird, cat->cat
    w = classifier((["cat", "dog", "cat"], ["cat", "cat", "cat"]), (["dog", "cat"], ["dog", "dog"]))
    w.add(joined(["bird", "cat"], ["bird", "cat"]), 5.0)

    report = w.report(5.0, min_labels=1)

    assert report == AccuracyReport(
        task="classification",
        labels=7,
        min_labels=1,
        verdict=LabelVerdict.OK,
        accuracy=5 / 7,
        correct=5,
        per_class_recall={"cat": 3 / 4, "dog": 1 / 2, "bird": 1.0},  # true cat 4 rows (3 right), dog 2 (1), bird 1
        mae=None,
        rmse=None,
        skipped=0,
        window_start_s=0.0,
        delay_s={"bounds": list(DELAY_BOUNDS_S), "counts": [3, 0, 0, 0, 0, 0, 0, 0, 0], "overflow": 0},
    )
    assert w.classes == ["cat", "dog", "bird"]
    assert report.model_dump(mode="json")["verdict"] == "ok"


@pytest.mark.parametrize(
    ("prediction", "label", "equal"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (True, 1, True),
        (np.int64(2), 2, True),
        (np.float64(0.5), 0.5, True),
        (np.bool_(False), 0, True),
        (0.1 + 0.2, 0.3, False),  # numerically, exactly
        ("1", 1, False),  # a string never equals a number
        (1, "1", False),
        ("Cat", "cat", False),  # strings exactly
        ("cat", "cat", True),
        (math.nan, 1.0, False),
        (None, 1, False),
        ([1], 1, False),
        ({"class": 1}, 1, False),
    ],
    ids=repr,
)
def test_labels_compare_numerically_or_as_exact_strings(prediction, label, equal: bool) -> None:
    assert same_value(prediction, label) is equal


def test_equal_numbers_are_one_class_and_a_string_that_prints_alike_is_another() -> None:
    w = classifier(([True, 0, 1.0, "1", 1], [1, 1.0, 1, "1", True]))

    report = w.report(0.0, min_labels=1)

    # Class 1 (first seen as 1): rows 1, 2, 3, 5, right in 1, 3, 5. The string "1" is its own class.
    assert w.classes == [1, "1"]
    assert report.per_class_recall == {"1": 3 / 4, "'1'": 1.0}
    assert report.correct == 4


def test_recall_covers_only_classes_in_the_window_and_classes_stay_stable() -> None:
    w = classifier((["a"], ["a"]), now_s=0.0)
    w.add(joined(["a", "b"], ["b", "b"]), 100.0)  # "a" has expired from the window by now

    report = w.report(100.0, min_labels=1)

    assert report.per_class_recall == {"b": 0.5}
    assert w.classes == ["a", "b"]


def test_classes_beyond_one_chunk_and_beyond_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = list(range(70))  # two count vectors of 64 classes each
    predictions = [label if label % 2 == 0 else -1 for label in labels]
    w = classifier((predictions, labels), window=WindowSpec(rows=1000, seconds=60, bucket_s=10))

    recall = w.report(0.0, min_labels=1).per_class_recall
    assert recall is not None and len(recall) == 70
    assert (recall["0"], recall["1"], recall["68"], recall["69"]) == (1.0, 0.0, 1.0, 0.0)

    monkeypatch.setattr(accuracy, "MAX_CLASSES", 2)
    capped = classifier((["x", "y", "z", "z"], ["x", "y", "z", "w"]))
    report = capped.report(0.0, min_labels=1)
    assert capped.classes == ["x", "y"]
    assert (report.accuracy, report.per_class_recall) == (3 / 4, {"x": 1.0, "y": 1.0})  # "z" counts, unlisted


def test_a_joined_label_must_have_one_label_per_prediction() -> None:
    with pytest.raises(ValueError) as exc:
        classifier(([1, 2], [1]))

    assert str(exc.value) == "request 'r' has 2 predictions but 1 labels"


# --- regression ---


def test_mae_and_rmse_are_hand_computed() -> None:
    w = AccuracyWindow(WINDOW, "regression")
    w.add(joined([1.0, 2.0], [2, 2.0]), 0.0)  # errors 1, 0
    w.add(joined([3.0, 4.0], [1.0, 8]), 15.0)  # errors -2, 4

    report = w.report(15.0, min_labels=4)

    assert (report.task, report.verdict, report.labels, report.skipped) == ("regression", LabelVerdict.OK, 4, 0)
    assert report.mae == 7 / 4
    assert report.rmse == pytest.approx(math.sqrt(21 / 4), rel=1e-15)
    assert (report.accuracy, report.correct, report.per_class_recall) == (None, None, None)


def test_rows_that_are_not_finite_numbers_are_skipped_in_regression() -> None:
    w = AccuracyWindow(WINDOW, "regression")
    w.add(joined([1.0, "high", None, 2.0, 1e300, 10**400], [1.5, 3.0, 1.0, "x", -1e300, 1.0]), 0.0)

    report = w.report(0.0, min_labels=1)

    # Only the first row compares: the others have a string, None, an overflowing error or an int beyond floats.
    assert (report.labels, report.skipped, report.mae, report.rmse) == (1, 5, 0.5, 0.5)
    assert report.delay_s["counts"][0] == 1  # the request still counts once for its delay


# --- insufficient labels and the window ---


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fewer_labels_than_the_minimum_give_no_figures(task) -> None:
    w = AccuracyWindow(WINDOW, task)
    w.add(joined([1, 0], [1, 1], delay_s=30.0), 0.0)

    report = w.report(0.0, min_labels=3)

    assert (report.verdict, report.labels, report.min_labels) == ("insufficient labels", 2, 3)
    assert (report.accuracy, report.correct, report.per_class_recall, report.mae, report.rmse) == (None,) * 5
    assert report.delay_s["counts"][3] == 1  # the delays are still shown


def test_an_empty_window_reports_insufficient_labels() -> None:
    report = AccuracyWindow.from_spec(LabelSpec(), "classification").report(0.0, min_labels=50)

    assert (report.verdict, report.labels, report.window_start_s, report.delay_s) == (
        LabelVerdict.INSUFFICIENT,
        0,
        None,
        NO_DELAYS,
    )


def test_the_window_forgets_labels_older_than_its_seconds() -> None:
    w = classifier(([1, 1], [0, 0]), now_s=0.0)  # two wrong rows at 0
    w.add(joined([1], [1]), 55.0)

    assert w.report(60.0, min_labels=1).accuracy == 1 / 3  # the cut-off is 0: the bucket at 0 is still in
    later = w.report(61.0, min_labels=1)
    assert (later.labels, later.accuracy, later.window_start_s) == (1, 1.0, 50.0)
    assert w.report(200.0, min_labels=1).labels == 0


def test_the_window_keeps_only_the_newest_rows_it_needs() -> None:
    w = classifier(window=WindowSpec(rows=10, seconds=600, bucket_s=10))
    w.add(joined([0] * 8, [1] * 8), 0.0)  # 8 wrong
    w.add(joined([1] * 6, [1] * 6), 10.0)  # 6 right
    w.add(joined([1] * 5, [1] * 5), 20.0)  # 5 right: with the bucket before it, 11 >= 10 rows

    report = w.report(20.0, min_labels=10)

    assert (report.labels, report.correct, report.accuracy) == (11, 11, 1.0)


def test_a_window_needs_a_known_task() -> None:
    with pytest.raises(ValueError, match="task must be 'classification' or 'regression', got None"):
        AccuracyWindow(WINDOW, None)  # type: ignore[arg-type]


def test_the_report_needs_a_positive_minimum() -> None:
    with pytest.raises(ValueError, match="min_labels must be at least 1, got 0"):
        classifier().report(0.0, min_labels=0)


# --- the delay histogram ---


def test_label_delays_fall_into_fixed_buckets_per_request() -> None:
    w = AccuracyWindow(WindowSpec(rows=1000, seconds=600, bucket_s=10), "classification")
    delays = [-2.0, 0.5, 1.0, 1.5, 5.0, 59.9, 60.0, 86400.0, 86400.5, 1e9]
    for delay in delays:
        w.add(joined([1, 1, 1], [1, 1, 1], delay_s=delay), 0.0)  # three rows, one delay each

    histogram = w.report(0.0, min_labels=1).delay_s

    # (-inf, 1]: -2, 0.5, 1 | (1, 5]: 1.5, 5 | (15, 60]: 59.9, 60 | (14400, 86400]: 86400 | above: 86400.5, 1e9
    assert histogram == {"bounds": list(DELAY_BOUNDS_S), "counts": [3, 2, 0, 2, 0, 0, 0, 0, 1], "overflow": 2}
    assert DELAY_BOUNDS_S == (1, 5, 15, 60, 300, 900, 3600, 14400, 86400)


def test_the_delay_histogram_forgets_with_the_window() -> None:
    w = AccuracyWindow(WINDOW, "regression")
    w.add(joined([1.0], [1.0], delay_s=100.0), 0.0)
    w.add(joined([1.0], [1.0], delay_s=2.0), 65.0)

    assert w.report(65.0, min_labels=1).delay_s["counts"] == [0, 1, 0, 0, 0, 0, 0, 0, 0]


# --- the task and the comparison of two versions ---


@pytest.mark.parametrize(
    ("predictions", "task"),
    [
        ([0, 1, 2], "classification"),
        (["setosa"], "classification"),
        ([True, False], "classification"),
        ([np.int64(3)], "classification"),
        ([1.5, 2], "regression"),
        ([np.float32(0.5)], "regression"),
        ([], None),
    ],
    ids=repr,
)
def test_the_task_is_inferred_from_the_prediction_types(predictions: list, task) -> None:
    assert infer_task(predictions) == task


def test_two_versions_accuracies_compare_with_the_rollout_z_test() -> None:
    """No second z-test here: rollout's one-sided test of "a's proportion is greater than b's" is the test of
    "the candidate b is less accurate than the champion a", on two reports' `correct` and `labels`."""
    champion = classifier(([1] * 90 + [0] * 10, [1] * 100)).report(0.0, min_labels=50)
    candidate = classifier(([1] * 80 + [0] * 20, [1] * 100)).report(0.0, min_labels=50)

    test = two_proportion_z_test(champion.correct, champion.labels, candidate.correct, candidate.labels)

    # Pooled p = 0.85, se = sqrt(0.85 * 0.15 * (2 / 100)), z = 0.1 / se.
    assert test.z == pytest.approx(0.1 / math.sqrt(0.85 * 0.15 * 0.02))
    assert test.p_value == pytest.approx(0.5 * math.erfc(test.z / math.sqrt(2)))
    assert test.p_value < 0.05
