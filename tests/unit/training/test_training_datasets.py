import numpy as np
import pandas as pd
import pytest

from training.datasets import fingerprint, load_table, split
from training.errors import (
    DatasetFormatError,
    DatasetNotFoundError,
    DatasetTableNotFoundError,
    DatasetUnavailableError,
    MissingTargetColumnError,
)
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


def sqlite_table(tmp_path, frame: pd.DataFrame, name: str = "rows") -> str:
    """`frame` written as table `name` of a sqlite file under `tmp_path`; returns the file's URL."""
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sqlalchemy.create_engine(url)
    frame.to_sql(name, engine, index=False)
    engine.dispose()
    return url


def test_sqlite_table_loads_like_the_same_rows_in_a_csv(tmp_path):
    # Integer and float features, string labels: the SQL column types differ from what read_csv infers, the
    # normalised table (float64 features, factorized labels) and so the fingerprint do not.
    frame = pd.DataFrame({"a": [1.5, 2.25, 3.0, 4.0], "b": [0, 1, 0, 1], "label": ["y", "x", "y", "x"]})
    frame.to_csv(tmp_path / "data.csv", index=False)
    url = sqlite_table(tmp_path, frame)
    from_csv = load_table(DatasetSpec(path=tmp_path / "data.csv", target="label"))
    from_sql = load_table(DatasetSpec(table={"url": url, "name": "rows"}, target="label"))
    assert from_sql.source == f"table rows at {url}"
    assert from_sql.target.tolist() == [1, 0, 1, 0]
    pd.testing.assert_frame_equal(from_sql.frame, from_csv.frame)
    assert fingerprint(from_sql) == fingerprint(from_csv)


def test_bundled_iris_as_a_sqlite_table_keeps_its_fingerprint(tmp_path):
    iris = load_table(DatasetSpec(name="iris"))
    url = sqlite_table(tmp_path, iris.frame, "iris")
    assert fingerprint(load_table(DatasetSpec(table={"url": url, "name": "iris"}))) == fingerprint(iris)


def test_unknown_table_is_not_found_and_names_table_and_url(tmp_path):
    url = sqlite_table(tmp_path, pd.DataFrame({"a": [1.0], "target": [0]}))
    with pytest.raises(DatasetTableNotFoundError) as info:
        load_table(DatasetSpec(table={"url": url, "name": "iris_fresh"}))
    assert str(info.value) == f"Dataset table 'iris_fresh' does not exist at {url}"
    assert info.value.status_code == 404


def test_missing_sqlite_file_is_not_found_and_not_created(tmp_path):
    path = tmp_path / "fresh.db"
    with pytest.raises(DatasetNotFoundError) as info:
        load_table(DatasetSpec(table={"url": f"sqlite:///{path}", "name": "rows"}))
    assert str(info.value) == f"Dataset file {path} does not exist"
    assert not path.exists()


def test_table_checks_target_and_numeric_features_like_files(tmp_path):
    url = sqlite_table(tmp_path, pd.DataFrame({"city": ["a", "b"], "target": [0, 1]}))
    spec = DatasetSpec(table={"url": url, "name": "rows"})
    with pytest.raises(DatasetFormatError) as info:
        load_table(spec)
    assert str(info.value) == f"Dataset table rows at {url} cannot be used: non-numeric feature columns: city"
    with pytest.raises(MissingTargetColumnError) as info:
        load_table(spec.model_copy(update={"target": "label"}))
    assert str(info.value) == f"Dataset table rows at {url} has no target column 'label' (columns: city, target)"


def test_a_file_that_is_no_database_is_a_format_error(tmp_path):
    path = tmp_path / "data.db"
    path.write_text("a,target\n1,0\n")
    url = f"sqlite:///{path}"
    with pytest.raises(DatasetFormatError) as info:
        load_table(DatasetSpec(table={"url": url, "name": "rows"}))
    assert str(info.value) == f"Dataset table rows at {url} cannot be used: file is not a database"


def test_errors_of_a_database_url_never_show_its_password(monkeypatch):
    import sqlalchemy

    class Refusing:
        """An engine whose server refuses the connection, quoting the password as a careless driver might."""

        url = sqlalchemy.engine.make_url("postgresql://reader:s3cret@db.internal:5432/features")

        def connect(self):
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("password s3cret rejected for reader"))

        def dispose(self):
            pass

    monkeypatch.setattr(sqlalchemy, "create_engine", lambda url: Refusing())
    spec = DatasetSpec(table={"url": "postgresql://reader:s3cret@db.internal:5432/features", "name": "iris"})
    assert spec.label == "table iris at postgresql://reader:***@db.internal:5432/features"
    with pytest.raises(DatasetUnavailableError) as info:
        load_table(spec)
    assert str(info.value) == (
        "Dataset table iris at postgresql://reader:***@db.internal:5432/features is unavailable: "
        "password *** rejected for reader"
    )
    assert info.value.status_code == 503
