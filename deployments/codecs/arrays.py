"""Turning decoded JSON into 2-D feature arrays, shared by every codec."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from deployments.errors import BadPayloadError, NotJsonError
from deployments.types import Features

JSON_CONTENT_TYPE = "application/json"
CSV_CONTENT_TYPE = "text/csv"


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 naming why it is not one."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotJsonError(str(exc)) from None
    except RecursionError:  # Python's parser recurses once per nested array or object
        raise NotJsonError("it nests arrays or objects too deeply") from None
    if not isinstance(payload, dict):
        raise BadPayloadError(f"The request body must be a JSON object, got {type(payload).__name__}")
    return payload


def to_array(data: Any, what: str) -> np.ndarray:
    """A numpy array of JSON data; strings become an object array, ragged or mixed data is a 400."""
    try:
        array = np.asarray(data)
    except ValueError:
        raise BadPayloadError(f"{what} is ragged: every row must have the same length") from None
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind not in "biuf":
        raise BadPayloadError(f"{what} must hold numbers, booleans or strings")
    return array


def rows_to_features(rows: Any, what: str) -> Features:
    """A list of rows (lists), records (dicts) or scalars as `Features`."""
    if not isinstance(rows, list) or not rows:
        raise BadPayloadError(f"{what} must be a non-empty list")
    if all(isinstance(row, dict) for row in rows):
        return records_to_features(rows, what)
    if any(isinstance(row, dict) for row in rows):
        raise BadPayloadError(f"{what} mixes records (objects) with other rows")
    array = to_array(rows, what)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise BadPayloadError(f"{what} must be a list of rows (2-D), got {array.ndim}-D data")
    return Features(array)


def records_to_features(records: list[dict[str, Any]], what: str) -> Features:
    """Records `[{"col": v, ...}, ...]`, all with the same keys, as `Features` with named columns."""
    columns = tuple(records[0])
    if not columns:
        raise BadPayloadError(f"{what} records must name at least one column")
    for index, record in enumerate(records):
        if tuple(record) != columns and set(record) != set(columns):
            raise BadPayloadError(f"{what} record {index} has columns {sorted(record)}, expected {sorted(columns)}")
    return Features(to_array([[record[name] for name in columns] for record in records], what), columns)


def columns_to_features(columns: dict[str, Any], what: str) -> Features:
    """Columnar input `{"col": [v, ...], ...}` as `Features` with named columns."""
    if not columns:
        raise BadPayloadError(f"{what} must name at least one column")
    lengths = {name: len(values) if isinstance(values, list) else -1 for name, values in columns.items()}
    if any(length < 1 for length in lengths.values()) or len(set(lengths.values())) != 1:
        raise BadPayloadError(f"{what} columns must be non-empty lists of equal length, got lengths {lengths}")
    names = tuple(columns)
    array = to_array([columns[name] for name in names], what)
    if array.ndim != 2:
        raise BadPayloadError(f"{what} columns must hold scalars")
    return Features(array.T.copy(), names)
