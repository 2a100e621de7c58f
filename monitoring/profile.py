"""A version's reference profile: what its training data and holdout predictions looked like, as bins and counts.

Computed once when a version is registered and stored as `rayship_profile.json` beside the model's files, so the
digest manifest covers it and a replica loads it verified. Replicas bin live rows into exactly these bins
(`monitoring.binning`), so reference and live counts compare bin for bin.

Numeric feature bins: underflow (below the reference minimum), the quantile bins between the edges, overflow
(above the reference maximum, and NaN). Categorical features: the reference vocabulary plus "other". Predictions:
class counts plus "other" when the model has classes, and a score histogram: the top class probability on fixed
tenths of [0, 1] for a classifier with probabilities, the predicted value on quantile bins for a regressor.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError

from monitoring.contract import Strict, first_problem
from monitoring.errors import ProfileInvalidError
from monitoring.stats import quantile_edges

if TYPE_CHECKING:  # pandas only builds profiles; the replicas and the monitor that read them need not import it
    import pandas as pd

PROFILE_FILE = "rayship_profile.json"
DEFAULT_BINS = 10
PROBABILITY_EDGES = tuple(round(i / 10, 1) for i in range(11))


class NumericFeature(Strict):
    """A numeric feature's quantile bin edges and the reference rows in each bin."""

    kind: Literal["numeric"] = Field("numeric", description="Always 'numeric'.")
    name: str = Field(description="Column name, as the model's signature names it.")
    edges: list[float] = Field(min_length=1, description="Strictly increasing bin edges: quantiles 0..1 of the data.")
    counts: list[int] = Field(description="Reference rows per bin: underflow, one per pair of edges, overflow.")

    @property
    def bins(self) -> int:
        return len(self.edges) + 1


class CategoricalFeature(Strict):
    """A categorical feature's reference vocabulary and the reference rows per category."""

    kind: Literal["categorical"] = Field("categorical", description="Always 'categorical'.")
    name: str = Field(description="Column name, as the model's signature names it.")
    categories: list[str] = Field(min_length=1, description="The reference vocabulary, sorted.")
    counts: list[int] = Field(description="Reference rows per category, then one count for any other value.")

    @property
    def bins(self) -> int:
        return len(self.categories) + 1


FeatureProfile = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="kind")]


class PredictionProfile(Strict):
    """The distribution of the model's predictions on the holdout data."""

    classes: list[Any] | None = Field(description="Class labels for a classifier; null for a regressor.")
    class_counts: list[int] | None = Field(description="Holdout predictions per class, then one for any other label.")
    score: Literal["max_probability", "prediction"] | None = Field(
        description="What the score histogram bins: the top class probability, or the predicted value; null: none."
    )
    score_edges: list[float] | None = Field(description="Score bin edges (same bin layout as a numeric feature).")
    score_counts: list[int] | None = Field(description="Holdout predictions per score bin.")


class ReferenceProfile(Strict):
    """Everything a replica needs to bin live traffic and the monitor needs to score it."""

    format_version: Literal[1] = Field(1, description="Version of this file's layout.")
    rows: int = Field(ge=1, description="Reference rows the feature counts were taken from.")
    prediction_rows: int = Field(ge=0, description="Holdout rows the prediction counts were taken from.")
    source: str = Field(description="Where the reference data came from, e.g. 'iris training split'.")
    features: list[FeatureProfile] = Field(min_length=1, description="One entry per model input column, in order.")
    predictions: PredictionProfile | None = Field(description="The holdout prediction distribution, if recorded.")

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def parse_profile(text: str, where: str) -> ReferenceProfile:
    """Read a profile file's text; anything malformed is a `ProfileInvalidError` naming `where` and the field."""
    try:
        return ReferenceProfile.model_validate_json(text)
    except ValidationError as exc:
        raise ProfileInvalidError(where, first_problem(exc)) from None


def build_profile(
    features: pd.DataFrame,
    *,
    source: str,
    predictions: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    classes: list[Any] | None = None,
    bins: int = DEFAULT_BINS,
) -> ReferenceProfile:
    """Bin edges from `features` (numeric columns by quantile, others by vocabulary), counts of the same rows, and
    the distribution of `predictions` (with `probabilities` and `classes` for a classifier)."""
    from monitoring.binning import Binner  # the binner needs the profile's types; one binning code for both sides

    if features.empty:
        raise ProfileInvalidError(source, "the reference data has no rows")
    skeleton = ReferenceProfile(
        rows=len(features),
        prediction_rows=0 if predictions is None else len(predictions),
        source=source,
        features=[_feature_edges(str(name), features[name], bins) for name in features.columns],
        predictions=None if predictions is None else _prediction_edges(predictions, probabilities, classes, bins),
    )
    binner = Binner(skeleton)
    counts = binner.feature_counts(features.to_numpy(dtype=object if binner.has_categorical else float))
    filled = [
        feature.model_copy(update={"counts": part.tolist()})
        for feature, part in zip(skeleton.features, binner.split_features(counts), strict=True)
    ]
    prediction = skeleton.predictions
    if prediction is not None:
        class_counts, score_counts = binner.prediction_counts(predictions, probabilities)
        prediction = prediction.model_copy(
            update={
                "class_counts": None if class_counts is None else class_counts.tolist(),
                "score_counts": None if score_counts is None else score_counts.tolist(),
            }
        )
    return skeleton.model_copy(update={"features": filled, "predictions": prediction})


def _feature_edges(name: str, column: pd.Series, bins: int) -> NumericFeature | CategoricalFeature:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if is_numeric_dtype(column) and not is_bool_dtype(column):
        values = column.to_numpy(dtype=float)
        if not np.isfinite(values).any():
            raise ProfileInvalidError(name, "the reference column has no finite value")
        return NumericFeature(name=name, edges=quantile_edges(values, bins), counts=[])
    categories = sorted({str(value) for value in column.dropna()})
    if not categories:
        raise ProfileInvalidError(name, "the reference column has no value")
    return CategoricalFeature(name=name, categories=categories, counts=[])


def _prediction_edges(
    predictions: np.ndarray, probabilities: np.ndarray | None, classes: list[Any] | None, bins: int
) -> PredictionProfile:
    if classes is not None and probabilities is not None:
        score, edges = "max_probability", list(PROBABILITY_EDGES)
    elif classes is None:
        score, edges = "prediction", quantile_edges(np.asarray(predictions, dtype=float), bins)
    else:
        score, edges = None, None
    return PredictionProfile(
        classes=np.asarray(classes).tolist() if classes is not None else None,
        class_counts=None,
        score=score,
        score_edges=edges,
        score_counts=None,
    )
