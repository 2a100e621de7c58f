"""The feedback codec (pure): `POST /v2/models/{model}/feedback` bodies in, label items out; join results back.

The body is `{"labels": [{"request_id": "abc", "label": 1}, {"request_id": "def", "label": [0, 2]}]}`: each item
names the `x-request-id` of an earlier prediction and carries its ground truth, one label for a one-row request or
a list with one label per row. A label is a boolean, a number (finite) or a string (at most 256 characters). Any
problem is one `FeedbackInvalidError` (HTTP 400) naming the item's index and the field; nothing is joined then.
"""

from __future__ import annotations

import json
import math
from typing import Any

from monitoring.errors import FeedbackInvalidError
from monitoring.labels import MAX_LABEL_CHARS, MAX_REQUEST_ID_CHARS, JoinResult, LabelItem

# The most label items one body may carry (a bound on the work of one call, whatever the body size limit).
MAX_LABELS = 10_000

_BODY_FIELDS = ("labels",)
_ITEM_FIELDS = ("request_id", "label")


def parse_feedback(body: bytes, model: str) -> list[LabelItem]:
    """The body's label items, in order; a `FeedbackInvalidError` for the first problem found."""
    raw = _labels(_json(body, model), model)
    return [_item(index, item, model) for index, item in enumerate(raw)]


def encode_result(result: JoinResult) -> dict[str, Any]:
    """The feedback route's response: how many items joined, and why the others did not."""
    return {
        "accepted": result.accepted,
        "unknown": result.unknown,
        "expired": result.expired,
        "duplicate": result.duplicate,
        "mismatched": list(result.mismatched),
    }


def _json(body: bytes, model: str) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise FeedbackInvalidError(model, "is nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        raise FeedbackInvalidError(model, "is not valid JSON") from None


def _labels(raw: Any, model: str) -> list[Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("labels"), list):
        raise FeedbackInvalidError(model, "must be an object with a 'labels' list")
    unknown = [name for name in raw if name not in _BODY_FIELDS]
    if unknown:
        raise FeedbackInvalidError(model, f"has an unknown field {unknown[0]!r}")
    labels = raw["labels"]
    if not labels:
        raise FeedbackInvalidError(model, "has no labels")
    if len(labels) > MAX_LABELS:
        raise FeedbackInvalidError(model, f"has {len(labels)} labels; at most {MAX_LABELS} are accepted at once")
    return labels


def _item(index: int, raw: Any, model: str) -> LabelItem:
    def invalid(reason: str) -> FeedbackInvalidError:
        return FeedbackInvalidError(model, reason, item=index)

    if not isinstance(raw, dict):
        raise invalid("must be an object with 'request_id' and 'label'")
    unknown = [name for name in raw if name not in _ITEM_FIELDS]
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}")  # before 'missing': a misspelt field is the likelier cause
    for name in _ITEM_FIELDS:
        if name not in raw:
            raise invalid(f"{name!r} is missing")
    request_id = raw["request_id"]
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= MAX_REQUEST_ID_CHARS:
        raise invalid(f"'request_id' must be a non-empty string of at most {MAX_REQUEST_ID_CHARS} characters")
    reason = _label_problem(raw["label"])
    if reason is not None:
        raise invalid(reason)
    return LabelItem(request_id=request_id, label=raw["label"])


def _label_problem(label: Any) -> str | None:
    """Why `label` is no label, or None."""
    if label == []:
        return "'label' is an empty list; give one label per row"
    for value in label if isinstance(label, list) else [label]:
        problem = _scalar_problem(value)
        if problem is not None:
            return problem
    return None


def _scalar_problem(value: Any) -> str | None:
    if not isinstance(value, bool | int | float | str):
        return "'label' must be a number, string, boolean or a list of them"
    if isinstance(value, float) and not math.isfinite(value):
        return f"'label' must be finite, got {value}"
    if isinstance(value, str) and len(value) > MAX_LABEL_CHARS:
        return f"'label' strings must be at most {MAX_LABEL_CHARS} characters"
    return None
