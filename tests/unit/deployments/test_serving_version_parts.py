from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from deployments.errors import FeatureCountError, FeatureTypeError, MissingColumnsError
from deployments.model_schema import conform, input_specs, schema_from_signature
from deployments.output_split import NON_FINITE_OUTPUT, finite_rows, split_outputs
from deployments.types import Features, Prediction, TensorSpec, VersionError
from deployments.version_app import BatchSettings, VersionAppArgs

COLUMNS = [{"name": "a", "type": "double"}, {"name": "b", "type": "long"}]


def test_named_columns_are_reordered_and_checked() -> None:
    schema = schema_from_signature(COLUMNS)
    swapped = conform(schema, Features(np.array([[2, 1]]), ("b", "a")), "iris", "1")
    assert (swapped.columns, swapped.values.tolist()) == (("a", "b"), [[1, 2]])
    with pytest.raises(
        MissingColumnsError, match="^Model 'iris' version '1' needs columns missing from the input: 'b'$"
    ):
        conform(schema, Features(np.array([[1]]), ("a",)), "iris", "1")


def test_positional_rows_are_counted_and_typed() -> None:
    schema = schema_from_signature(COLUMNS)
    named = conform(schema, Features(np.array([[1.0, 2.0]])), "iris", "1")
    assert named.columns == ("a", "b")
    with pytest.raises(FeatureCountError, match="^Model 'iris' version '1' expects 2 features, got 3$"):
        conform(schema, Features(np.array([[1, 2, 3]])), "iris", "1")
    with pytest.raises(FeatureTypeError, match="^Model 'iris' version '1' expects numeric features, got strings$"):
        conform(schema, Features(np.array([["x", "y"]], dtype=object)), "iris", "1")


def test_tensor_signatures_and_metadata() -> None:
    tensor = schema_from_signature([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}])
    assert (tensor.columns, tensor.num_features) == (None, 3)
    assert input_specs(tensor) == [TensorSpec("input-0", "FP32", [-1, 3])]
    assert input_specs(schema_from_signature(COLUMNS)) == [
        TensorSpec("a", "FP64", [-1]),
        TensorSpec("b", "INT64", [-1]),
    ]
    assert schema_from_signature(None).num_features is None


def test_batch_outputs_are_split_back_per_request() -> None:
    answers = split_outputs(np.array([0, 1, 2]), np.eye(3), [1, 2], "4", [0, 1, 2])
    assert [a.predictions for a in answers] == [[0], [1, 2]]
    assert answers[1].probabilities == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert {a.batch_size for a in answers} == {2}
    with pytest.raises(ValueError, match="^the model returned 3 predictions for 4 rows$"):
        split_outputs(np.array([0, 1, 2]), None, [2, 2], "4", None)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_request_whose_predictions_are_not_finite_is_a_500_of_its_own(bad: float) -> None:
    answers = split_outputs(np.array([0.5, 1.5, bad, 2.5]), None, [1, 2, 1], "3", None)
    assert answers[1] == VersionError(500, NON_FINITE_OUTPUT)
    assert NON_FINITE_OUTPUT == "returned a non-finite output (NaN or infinity)"
    assert [a.predictions for a in (answers[0], answers[2])] == [[0.5], [2.5]]
    assert {a.batch_size for a in (answers[0], answers[2])} == {3}


def test_a_request_whose_probabilities_are_not_finite_is_a_500_even_with_finite_labels() -> None:
    probabilities = np.array([[0.2, 0.8], [np.nan, np.nan], [0.9, 0.1]])
    answers = split_outputs(np.array(["b", "a", "a"]), probabilities, [1, 1, 1], "3", ["a", "b"])
    assert [type(answer) for answer in answers] == [Prediction, VersionError, Prediction]
    assert answers[1] == VersionError(500, NON_FINITE_OUTPUT)
    assert answers[2].probabilities == [[0.9, 0.1]]


def test_only_inexact_numbers_are_checked_for_finiteness() -> None:
    assert finite_rows(np.array([[1.0, np.inf], [1.0, 2.0]])).tolist() == [False, True]
    assert finite_rows(np.array([1 + 0j, complex(np.nan, 0)])).tolist() == [True, False]
    assert finite_rows(np.array(["setosa", "virginica"])).tolist() == [True, True]
    assert finite_rows(np.array([3, 4], dtype=np.int64)).tolist() == [True, True]
    assert finite_rows(np.zeros((0, 3))).tolist() == []


def test_version_args_need_a_pinned_uri() -> None:
    assert VersionAppArgs.model_validate({"model_uri": "models:/iris/3"}).model_uri == "models:/iris/3"
    assert BatchSettings().max_batch_size == 32  # the user_config's default
    with pytest.raises(ValidationError, match="String should match pattern"):
        VersionAppArgs.model_validate({"model_uri": "models:/iris@champion"})
