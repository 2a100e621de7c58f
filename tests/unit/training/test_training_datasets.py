import numpy as np
import pandas as pd
import pytest

from training.datasets import fingerprint, load_table, split
from training.errors import DatasetFormatError, DatasetNotFoundError, MissingTargetColumnError
from training.scoring import score
from training.spec import DatasetSpec, SplitSpec


def test_bundled_iris_keeps_sklearn_feature_names():
    table = load_table(DatasetSpec(name="iris"))
    assert list(table.features.columns) == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    assert table.target.name == "target"
    assert len(table.features) == 150


def test_fingerprint_is_stable_and_sensitive_to_one_value():
    table = load_table(DatasetSpec(name="iris"))
    assert fingerprint(table) == fingerprint(load_table(DatasetSpec(name="iris")))
    changed = table.features.copy()
    changed.iloc[0, 0] += 0.1
    assert fingerprint(table.model_copy(update={"features": changed})) != fingerprint(table)


def test_split_is_stratified_disjoint_and_deterministic():
    table = load_table(DatasetSpec(name="iris"))
    spec = SplitSpec(test_fraction=0.2, validation_fraction=0.25, seed=3)
    first, second = split(table, spec), split(table, spec)
    assert first.x_test.index.equals(second.x_test.index)
    parts = [first.x_train.index, first.x_valid.index, first.x_test.index]
    assert sum(len(p) for p in parts) == 150
    assert len(set().union(*map(set, parts))) == 150
    assert first.classes == [0, 1, 2]
    assert sorted(first.y_test.value_counts().tolist()) == [10, 10, 10]


def test_csv_dataset_with_named_target(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0, 1, 0, 1], "label": ["x", "y", "x", "y"]}).to_csv(
        path, index=False
    )
    table = load_table(DatasetSpec(path=path, target="label"))
    assert list(table.features.columns) == ["a", "b"]
    assert table.target.tolist() == [0, 1, 0, 1]


def test_missing_target_column_and_file_are_named(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(path, index=False)
    with pytest.raises(MissingTargetColumnError) as info:
        load_table(DatasetSpec(path=path, target="label"))
    assert str(info.value) == f"Dataset {path} has no target column 'label' (columns: a, b)"
    with pytest.raises(DatasetNotFoundError, match=r"^Dataset file .*nope.csv does not exist$"):
        load_table(DatasetSpec(path=tmp_path / "nope.csv"))


def test_non_numeric_features_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"city": ["a", "b"], "target": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(DatasetFormatError, match="non-numeric feature columns: city"):
        load_table(DatasetSpec(path=path))


def test_score_from_probabilities():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    scores = score(np.array([0, 1, 1, 1]), proba, [0, 1])
    assert scores["accuracy"] == 0.75
    assert scores["roc_auc"] == pytest.approx(1.0)
    assert scores["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.7])))
