"""Loading a spec's dataset as a feature frame plus a label series, fingerprinting it, and splitting it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

from training.errors import (
    DatasetFormatError,
    DatasetNotFoundError,
    DatasetTableNotFoundError,
    DatasetUnavailableError,
    MissingTargetColumnError,
)
from training.spec import DatasetSpec, SplitSpec, TableSpec

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

_BUNDLED = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "iris": sk_datasets.load_iris,
    "wine": sk_datasets.load_wine,
}


class Table(BaseModel):
    """Features and labels of one dataset, with where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source: str = Field(description="Bundled dataset name, file path or table label (`DatasetSpec.label`).")
    features: pd.DataFrame = Field(description="Numeric feature columns, named.")
    target: pd.Series = Field(description="Class labels, one per row.")

    @property
    def frame(self) -> pd.DataFrame:
        """Features and target in one frame (what `mlflow.log_input` records)."""
        return self.features.assign(**{str(self.target.name): self.target.to_numpy()})


class Splits(BaseModel):
    """Train (what trials fit on), validation (what trials are ranked by) and test (the holdout)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    x_train: pd.DataFrame = Field(description="Training features.")
    y_train: pd.Series = Field(description="Training labels.")
    x_valid: pd.DataFrame = Field(description="Validation features.")
    y_valid: pd.Series = Field(description="Validation labels.")
    x_test: pd.DataFrame = Field(description="Holdout features.")
    y_test: pd.Series = Field(description="Holdout labels.")

    @property
    def classes(self) -> list[int]:
        """Sorted class labels seen in training."""
        return sorted(int(c) for c in np.unique(self.y_train))


def load_table(spec: DatasetSpec) -> Table:
    """Load the bundled dataset, file or SQL table the spec names; errors name the missing file, table or column."""
    if spec.name is not None:
        bunch = _BUNDLED[spec.name](as_frame=True)
        return Table(source=spec.name, features=bunch.data.astype("float64"), target=bunch.target.rename("target"))
    if spec.table is not None:
        return _checked(_read_sql_table(spec.table, spec.label), spec.target, spec.label)
    return _load_file(Path(spec.path), spec.target)


def _load_file(path: Path, target: str) -> Table:
    if not path.is_file():
        raise DatasetNotFoundError(path)
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, ImportError) as exc:
        raise DatasetFormatError(str(path), str(exc)) from None
    return _checked(frame, target, str(path))


def _checked(frame: pd.DataFrame, target: str, source: str) -> Table:
    """The table of a file's or SQL table's rows: the target column exists and every other column is numeric.

    Features become float64 and labels their sorted factor codes (int64) whatever the source's column types, so
    the same rows read from a CSV file or a SQL table give the same `Table` and the same fingerprint."""
    if target not in frame.columns:
        raise MissingTargetColumnError(source, target, [str(c) for c in frame.columns])
    features = frame.drop(columns=[target])
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DatasetFormatError(source, f"non-numeric feature columns: {', '.join(non_numeric)}")
    labels, _ = pd.factorize(frame[target], sort=True)
    return Table(source=source, features=features.astype("float64"), target=pd.Series(labels, name=target))


def _read_sql_table(table: TableSpec, label: str) -> pd.DataFrame:
    """Every row of `table` in the order the database returns them: there is no ORDER BY (a table has no key we
    know of), so the split and fingerprint are reproducible as long as the database scans the table in one order."""
    # Imported here: trial actors import this module and never read a database.
    import sqlalchemy
    from sqlalchemy.exc import SQLAlchemyError

    url = sqlalchemy.engine.make_url(table.url)
    _refuse_missing_sqlite_file(url)
    try:
        engine = sqlalchemy.create_engine(url)
    except ImportError as exc:
        raise DatasetFormatError(label, f"its database driver is not installed ({exc})") from None
    except SQLAlchemyError as exc:  # e.g. an unknown dialect
        raise DatasetFormatError(label, _reason(exc, url)) from None
    try:
        with _connect(engine, label) as connection:
            if not sqlalchemy.inspect(connection).has_table(table.name):
                raise DatasetTableNotFoundError(table.name, table.masked_url)
            return pd.read_sql_table(table.name, connection)
    except (SQLAlchemyError, ValueError) as exc:
        raise DatasetFormatError(label, _reason(exc, url)) from None
    finally:
        engine.dispose()


def _connect(engine: Engine, label: str) -> Connection:
    """A connection, or `DatasetUnavailableError`: a database that cannot be reached is no format problem."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return engine.connect()
    except SQLAlchemyError as exc:
        raise DatasetUnavailableError(label, _reason(exc, engine.url)) from None


def _refuse_missing_sqlite_file(url: URL) -> None:
    """SQLite creates a database file that does not exist: reading must not, and must say the file is missing."""
    database = url.database or ""
    in_memory_or_uri = database in ("", ":memory:") or database.startswith("file:")
    if url.get_backend_name() == "sqlite" and not in_memory_or_uri and not Path(database).is_file():
        raise DatasetNotFoundError(Path(database))


def _reason(exc: Exception, url: URL) -> str:
    """The driver's own message (not SQLAlchemy's wrapper quoting the SQL), never with the password in it."""
    reason = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason


def fingerprint(table: Table) -> str:
    """sha256 over column names, dtypes and every row's values: equal data gives an equal fingerprint.

    The dtypes are the loaders' normalised ones (float64 features, int64 labels), so the same rows in the same
    order fingerprint equally from a CSV file, a Parquet file or a SQL table."""
    digest = hashlib.sha256()
    frame = table.frame
    digest.update("\x1f".join(f"{c}:{frame[c].dtype}" for c in frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def split(table: Table, spec: SplitSpec) -> Splits:
    """Stratified test holdout, then a stratified validation split of the rest; deterministic for a seed."""
    x_rest, x_test, y_rest, y_test = train_test_split(
        table.features, table.target, test_size=spec.test_fraction, random_state=spec.seed, stratify=table.target
    )
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=spec.validation_fraction, random_state=spec.seed, stratify=y_rest
    )
    return Splits(x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid, x_test=x_test, y_test=y_test)
