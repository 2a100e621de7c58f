"""KServe v1: `POST /v1/models/{model}:predict` with `{"instances": [...]}` -> `{"predictions": [...]}`.

`instances` is a list of rows (lists), of records (objects with the same keys) or of scalars (one feature).
"""

from __future__ import annotations

from typing import Any

from deployments.codecs.arrays import JSON_CONTENT_TYPE, parse_json_object, rows_to_features
from deployments.codecs.predict_codec import PredictCodec
from deployments.errors import BadPayloadError
from deployments.types import Features, Prediction


def decode_predict(body: bytes) -> Features:
    payload = parse_json_object(body)
    if "instances" not in payload:
        raise BadPayloadError("The request must have 'instances': a non-empty list of rows")
    return rows_to_features(payload["instances"], "'instances'")


def encode_predict(prediction: Prediction) -> dict[str, Any]:
    return {"predictions": prediction.predictions}


PREDICT: PredictCodec[Features] = PredictCodec(
    paths=("/v1/models/{model}:predict",),
    content_types=(JSON_CONTENT_TYPE,),
    decode=lambda body, _media_type, _headers: decode_predict(body),
    features=lambda features: features,
    encode=lambda _model, prediction, _features: encode_predict(prediction),
)
