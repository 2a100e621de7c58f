"""What a serving replica needs to know about a downloaded model, read from its MLmodel file without unpickling it.

rayship's trainers write a `rayship` entry into the MLmodel `metadata` (flavour, task, classes, whether
`predict_proba` exists, what the pyfunc returns); since MLmodel is in the digest manifest, these facts are verified
with everything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from mlflow.models import Model
from pydantic import BaseModel, ConfigDict, Field

from registry.errors import UnsupportedModelError

Flavor = Literal["sklearn", "xgboost", "pytorch"]
SUPPORTED_FLAVORS: tuple[Flavor, ...] = ("sklearn", "xgboost", "pytorch")
METADATA_KEY = "rayship"


class InputColumn(BaseModel):
    """One input of the model's signature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(description="Column name (None for an unnamed tensor input).")
    type: str = Field(description="MLflow type: 'double', 'long', ... for columns, the dtype for tensors.")


class ModelFacts(BaseModel):
    """The serving-relevant facts of one model version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flavor: Flavor = Field(description="Native MLflow flavour to load it with: sklearn, xgboost or pytorch.")
    inputs: list[InputColumn] = Field(description="Signature inputs in order; empty when the model has none.")
    has_predict_proba: bool = Field(description="True when the native model has `predict_proba`.")
    classes: list[Any] | None = Field(description="Class labels in `predict_proba` column order, when known.")
    pyfunc_output: Literal["labels", "probabilities", "unknown"] = Field(
        description="What `pyfunc.predict` returns: class labels, class probabilities, or unknown."
    )

    @property
    def input_names(self) -> list[str]:
        """Names of the named inputs, in signature order."""
        return [column.name for column in self.inputs if column.name is not None]


def read_model_facts(model_dir: Path) -> ModelFacts:
    """Read flavour, signature and rayship metadata from `model_dir/MLmodel`."""
    model_dir = Path(model_dir)
    if not (model_dir / "MLmodel").is_file():
        raise UnsupportedModelError(model_dir, "no MLmodel file")
    model = Model.load(str(model_dir))
    flavor = next((f for f in SUPPORTED_FLAVORS if f in model.flavors), None)
    if flavor is None:
        raise UnsupportedModelError(model_dir, f"flavours {sorted(model.flavors)} include none of {SUPPORTED_FLAVORS}")
    meta = (model.metadata or {}).get(METADATA_KEY, {})
    return ModelFacts(
        flavor=flavor,
        inputs=_signature_inputs(model),
        has_predict_proba=bool(meta.get("has_predict_proba", False)),
        classes=meta.get("classes"),
        pyfunc_output=meta.get("pyfunc_output", "unknown"),
    )


def _signature_inputs(model: Model) -> list[InputColumn]:
    if model.signature is None or model.signature.inputs is None:
        return []
    columns = []
    for spec in model.signature.inputs.to_dict():
        kind = spec.get("type")
        dtype = spec.get("tensor-spec", {}).get("dtype") if kind == "tensor" else kind
        columns.append(InputColumn(name=spec.get("name"), type=str(dtype)))
    return columns
