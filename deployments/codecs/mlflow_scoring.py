"""MLflow's scoring formats, served at `POST /models/{model}/invocations`.

JSON with exactly one of `dataframe_split` (`{"columns": [...], "data": [[...]]}`), `dataframe_records`
(`[{"col": v}, ...]`), `instances` (rows) or `inputs` (rows, or `{"col": [values]}`), plus optional `params`
(accepted, not used); or `text/csv` with a header row. Answers `{"predictions": [...]}`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from deployments.codecs.arrays import (
    CSV_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    columns_to_features,
    parse_json_object,
    records_to_features,
    rows_to_features,
    to_array,
)
from deployments.codecs.predict_codec import PredictCodec
from deployments.errors import BadPayloadError
from deployments.types import Features, Prediction

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode_invocations(body: bytes, content_type: str) -> Features:
    """`content_type` is the media type without parameters, already checked to be JSON or CSV."""
    if content_type == CSV_CONTENT_TYPE:
        return decode_csv(body)
    payload = parse_json_object(body)
    present = [key for key in FORMAT_KEYS if key in payload]
    if len(present) != 1:
        found = ", ".join(present) if present else "none"
        raise BadPayloadError(f"The request must have exactly one of {', '.join(FORMAT_KEYS)}; found: {found}")
    unknown = sorted(set(payload) - set(FORMAT_KEYS) - {"params"})
    if unknown:
        raise BadPayloadError(f"Unknown keys in the request: {', '.join(unknown)}")
    key = present[0]
    return _DECODERS[key](payload[key])


def _dataframe_split(split: Any) -> Features:
    if not isinstance(split, dict) or "data" not in split:
        raise BadPayloadError("'dataframe_split' must be an object with 'data' (and usually 'columns')")
    features = rows_to_features(split["data"], "'dataframe_split.data'")
    columns = split.get("columns")
    if columns is None:
        return features
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadPayloadError("'dataframe_split.columns' must be a list of strings")
    if len(columns) != features.values.shape[1]:
        raise BadPayloadError(
            f"'dataframe_split' names {len(columns)} columns but its rows have {features.values.shape[1]} values"
        )
    return Features(features.values, tuple(columns))


def _dataframe_records(records: Any) -> Features:
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise BadPayloadError("'dataframe_records' must be a non-empty list of objects")
    return records_to_features(records, "'dataframe_records'")


def _inputs(inputs: Any) -> Features:
    if isinstance(inputs, dict):
        return columns_to_features(inputs, "'inputs'")
    return rows_to_features(inputs, "'inputs'")


_DECODERS = {
    "dataframe_split": _dataframe_split,
    "dataframe_records": _dataframe_records,
    "instances": lambda rows: rows_to_features(rows, "'instances'"),
    "inputs": _inputs,
}


def decode_csv(body: bytes) -> Features:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPayloadError(f"The CSV body is not UTF-8: {exc}") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise BadPayloadError(f"The CSV body cannot be read: {exc}") from None
    rows = [row for row in rows if row]
    if len(rows) < 2:
        raise BadPayloadError("The CSV body needs a header row and at least one data row")
    header, data = rows[0], rows[1:]
    for number, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise BadPayloadError(f"CSV line {number} has {len(row)} values, the header has {len(header)}")
    return Features(to_array([[_csv_value(v) for v in row] for row in data], "The CSV data"), tuple(header))


def _csv_value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def encode_invocations(prediction: Prediction) -> dict[str, Any]:
    return {"predictions": prediction.predictions}


INVOCATIONS: PredictCodec[Features] = PredictCodec(
    paths=("/models/{model}/invocations",),
    content_types=(JSON_CONTENT_TYPE, CSV_CONTENT_TYPE),
    decode=lambda body, media_type, _headers: decode_invocations(body, media_type),
    features=lambda features: features,
    encode=lambda _model, prediction, _features: encode_invocations(prediction),
)
