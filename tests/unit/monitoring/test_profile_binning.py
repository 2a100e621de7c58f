"""Reference profiles and the one binning code both sides use: edges, counts, layouts, prediction bins, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.binning import Binner
from monitoring.errors import ProfileInvalidError
from monitoring.profile import PROBABILITY_EDGES, build_profile, parse_profile
from monitoring.sketch import Sketch

pytestmark = pytest.mark.unit


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(101, dtype=float), "b": np.full(101, 3.0)})


def test_numeric_edges_are_the_quantiles_and_the_reference_fills_only_inner_bins() -> None:
    profile = build_profile(frame(), source="test", bins=10)

    a, b = profile.features
    assert a.edges == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    # underflow, ten inner bins (the last closed at 100), overflow
    assert a.counts == [0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11, 0]
    assert b.edges == [3.0] and b.counts == [101, 0]  # a constant column: at-or-below, above
    assert profile.rows == 101 and profile.predictions is None


def test_live_rows_land_in_underflow_inner_and_overflow_bins() -> None:
    binner = Binner(build_profile(frame(), source="test", bins=10))
    rows = np.array([[-5.0, 3.0], [0.0, 3.0], [9.99, 2.0], [100.0, 4.0], [100.5, 3.0], [np.nan, 3.0]])

    a, b = binner.split_features(binner.feature_counts(rows))

    assert a.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]  # -5 under; 0 and 9.99 bin 1; 100 last; 100.5, NaN over
    assert b.tolist() == [5, 1]


def test_categorical_features_count_their_vocabulary_and_other() -> None:
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "colour": ["red", "blue", "red", "green"]})
    profile = build_profile(data, source="test", bins=2)
    binner = Binner(profile)

    colour = profile.features[1]
    assert colour.categories == ["blue", "green", "red"] and colour.counts == [1, 1, 2, 0]
    live = np.array([[1.0, "red"], [2.0, "purple"]], dtype=object)
    assert binner.split_features(binner.feature_counts(live))[1].tolist() == [0, 0, 1, 1]


def test_classifier_predictions_record_class_counts_and_top_probability_tenths() -> None:
    probabilities = np.array([[0.95, 0.05], [0.35, 0.65], [0.5, 0.5]])
    profile = build_profile(
        frame().head(3), source="t", predictions=np.array([0, 1, 0]), probabilities=probabilities, classes=[0, 1]
    )

    assert profile.predictions.class_counts == [2, 1, 0]
    assert profile.predictions.score_edges == list(PROBABILITY_EDGES)
    # 0.95 -> [0.9, 1.0]; 0.65 -> [0.6, 0.7); 0.5 -> [0.5, 0.6)
    assert profile.predictions.score_counts == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0]


def test_an_unknown_label_counts_as_other_and_string_labels_work() -> None:
    profile = build_profile(frame().head(2), source="t", predictions=np.array(["cat", "dog"]), classes=["cat", "dog"])
    binner = Binner(profile)

    classes, scores = binner.prediction_counts(np.array(["dog", "eel", "dog"]), None)

    assert classes.tolist() == [0, 2, 1] and scores is None


def test_vector_outputs_have_no_class_counts() -> None:
    profile = build_profile(frame().head(2), source="t", predictions=np.array([0, 1]), classes=[0, 1])

    classes, _ = Binner(profile).prediction_counts(np.array([[0.2, 0.8]]), None)

    assert classes is None


def test_a_regressor_bins_its_predicted_values_on_quantile_edges() -> None:
    profile = build_profile(frame(), source="t", predictions=np.arange(101, dtype=float), bins=4)

    assert profile.predictions.score == "prediction"
    assert profile.predictions.score_edges == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert Binner(profile).prediction_counts(np.array([-1.0, 30.0, 101.0]), None)[1].tolist() == [1, 0, 1, 0, 0, 1]


def test_a_profile_survives_its_json_file() -> None:
    profile = build_profile(frame(), source="t", predictions=np.zeros(101, dtype=int), classes=[0, 1])

    assert parse_profile(profile.to_json(), "iris/1") == profile


def test_a_malformed_profile_file_names_the_field() -> None:
    with pytest.raises(ProfileInvalidError) as caught:
        parse_profile('{"format_version": 1, "rows": 0}', "iris/1")

    assert (
        str(caught.value) == "Reference profile of iris/1 is invalid: rows: Input should be greater than or equal to 1"
    )


def test_reference_data_without_rows_or_values_is_refused() -> None:
    with pytest.raises(ProfileInvalidError, match="the reference data has no rows"):
        build_profile(pd.DataFrame({"a": []}), source="empty.csv")
    with pytest.raises(ProfileInvalidError) as caught:
        build_profile(pd.DataFrame({"a": [np.nan, np.inf]}), source="bad.csv")
    assert str(caught.value) == "Reference profile of a is invalid: the reference column has no finite value"


def test_a_sketch_is_the_sum_of_its_batches_and_ignores_rows_of_the_wrong_width() -> None:
    profile = build_profile(frame(), source="t", predictions=np.zeros(101, dtype=int), classes=[0, 1])
    sketch, binner = Sketch(profile), Binner(profile)
    first, second = np.array([[5.0, 3.0]]), np.array([[55.0, 3.0], [200.0, 1.0]])

    sketch.observe(first, np.array([0]), None)
    sketch.observe(second, np.array([1, 1]), None)
    sketch.observe(np.zeros((1, 3)), np.array([0]), None)

    counts = sketch.snapshot()
    assert counts.rows == 3
    assert counts.features == (binner.feature_counts(first) + binner.feature_counts(second)).tolist()
    assert counts.classes == [1, 2, 0] and counts.scores is None
