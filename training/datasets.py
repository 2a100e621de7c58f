"""Loading a spec's dataset as a feature frame plus a label series, fingerprinting it, and splitting it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

from training.errors import DatasetFormatError, DatasetNotFoundError, MissingTargetColumnError
from training.spec import DatasetSpec, SplitSpec

_BUNDLED = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "iris": sk_datasets.load_iris,
    "wine": sk_datasets.load_wine,
}


class Table(BaseModel):
    """Features and labels of one dataset, with where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source: str = Field(description="Bundled dataset name or file path.")
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
    """Load the bundled dataset or file the spec names; errors name the missing file or column."""
    if spec.name is not None:
        bunch = _BUNDLED[spec.name](as_frame=True)
        return Table(source=spec.name, features=bunch.data.astype("float64"), target=bunch.target.rename("target"))
    return _load_file(Path(spec.path), spec.target)


def _load_file(path: Path, target: str) -> Table:
    if not path.is_file():
        raise DatasetNotFoundError(path)
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, ImportError) as exc:
        raise DatasetFormatError(str(path), str(exc)) from None
    if target not in frame.columns:
        raise MissingTargetColumnError(str(path), target, [str(c) for c in frame.columns])
    features = frame.drop(columns=[target])
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DatasetFormatError(str(path), f"non-numeric feature columns: {', '.join(non_numeric)}")
    labels, _ = pd.factorize(frame[target], sort=True)
    return Table(source=str(path), features=features.astype("float64"), target=pd.Series(labels, name=target))


def fingerprint(table: Table) -> str:
    """sha256 over column names, dtypes and every row's values: equal data gives an equal fingerprint."""
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
