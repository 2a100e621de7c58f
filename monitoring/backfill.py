"""`python -m monitoring profile models:/m/N --data FILE`: give a version registered without a reference profile
its profile, computed from a data file, verified and recorded in its digest manifest like any other file.

The predictions part comes from the version's own pyfunc on the same rows: class counts when it returns labels,
and the top-probability histogram too when it returns class probabilities (the trainers' metadata says which).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from monitoring.errors import ProfileDataError
from monitoring.profile import PROFILE_FILE, ReferenceProfile, build_profile
from registry.api import PinnedVersion, add_version_file, download_verified, resolve
from registry.errors import VersionFileExistsError
from registry.model_facts import ModelFacts, read_model_facts


def backfill_profile(
    model_uri: str, data: Path, target: str | None = None, bins: int = 10, client: MlflowClient | None = None
) -> ReferenceProfile:
    """Compute the profile of `model_uri` from `data` and add it to the version; returns the profile."""
    pinned = resolve(model_uri, client)
    frame = read_reference_data(data, target)
    with tempfile.TemporaryDirectory(prefix="rayship-profile-") as tmp:
        model_dir = download_verified(pinned, Path(tmp), client)
        if (model_dir / PROFILE_FILE).exists():
            raise VersionFileExistsError(pinned.name, pinned.version, PROFILE_FILE)
        facts = read_model_facts(model_dir)
        frame = _model_columns(frame, facts, data)
        profile = _profile(pinned, model_dir, frame, facts, data, bins)
    add_version_file(pinned, PROFILE_FILE, profile.to_json().encode(), client)
    return profile


def read_reference_data(path: Path, target: str | None) -> pd.DataFrame:
    """A CSV or Parquet file's rows, without the label column when one is named."""
    if not path.is_file():
        raise ProfileDataError(str(path), "no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, ImportError) as exc:
        raise ProfileDataError(str(path), f"cannot be read ({exc})") from None
    if target is not None:
        if target not in frame.columns:
            raise ProfileDataError(str(path), f"it has no column '{target}' (the --target)")
        frame = frame.drop(columns=[target])
    if frame.empty:
        raise ProfileDataError(str(path), "it has no rows")
    return frame


def _model_columns(frame: pd.DataFrame, facts: ModelFacts, path: Path) -> pd.DataFrame:
    names = facts.input_names
    if not names:
        if len(frame.columns) != len(facts.inputs) and facts.inputs:
            raise ProfileDataError(str(path), f"it has {len(frame.columns)} columns, the model {len(facts.inputs)}")
        return frame
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ProfileDataError(str(path), f"columns the model needs are missing: {', '.join(missing)}")
    return frame[names]


def _profile(
    pinned: PinnedVersion, model_dir: Path, frame: pd.DataFrame, facts: ModelFacts, path: Path, bins: int
) -> ReferenceProfile:
    import mlflow.pyfunc

    source = f"{path.name} ({len(frame)} rows, backfilled for {pinned})"
    if facts.classes is None or facts.pyfunc_output == "unknown":
        return build_profile(frame, source=source, bins=bins)
    output = np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(frame))
    if facts.pyfunc_output == "probabilities" and output.ndim == 2:
        predictions = np.asarray(facts.classes)[np.argmax(output, axis=1)]
        return build_profile(
            frame, source=source, predictions=predictions, probabilities=output, classes=facts.classes, bins=bins
        )
    return build_profile(frame, source=source, predictions=output.ravel(), classes=facts.classes, bins=bins)
