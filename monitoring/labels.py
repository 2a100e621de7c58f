"""The ground-truth join store: predictions wait here, keyed by request id, until their labels arrive (pure).

The gateway `record`s every prediction it serves (model, version, one prediction per row, when); a client later
posts labels for request ids it got back (`POST /v2/models/{model}/feedback`, `monitoring.feedback`), and `join`
pairs each label with its prediction once: the pair leaves the store, so a second label for the same id is a
duplicate. Nothing here reads a clock; `now_s` is always an argument.

Bounds. Per model at most `max_pending` predictions wait (the earliest recorded are dropped first once it is
exceeded, and any older than `ttl_s` are dropped as they expire), and at most `max_pending` tombstones remember
the ids that left (expired, dropped for size, or joined), so a late label is answered "expired" and a repeated one
"duplicate" rather than "unknown" while its tombstone lasts: one more `ttl_s` after the id left, or until newer
tombstones push it out. A model with neither is forgotten. The store's memory is therefore bounded by
`models x max_pending x (one pending entry + one tombstone)`: roughly 350 bytes per pending one-row prediction and
290 per tombstone, about 65 MB per model at the default 100 000 (measured, with its conditions, in the docstring of
the bound's test in `tests/unit/monitoring/test_labels.py`); each further row adds its value and a list slot.

Expiry sweeps from the earliest recorded entry and stops at the first live one: a record that arrived out of order
(an older `served_at_s` behind newer ones) is dropped when it reaches the front, by the size bound, or when its
label comes (`join` checks each prediction's age itself), so an answer never depends on the sweep.

Scaling out. One store serves one cluster. Beyond one actor's memory or throughput, shard by a hash of the request
id over N store actors: the gateway (recording) and the feedback route (joining) compute the same shard from the
same id with a stable hash (crc32 or sha1 of the id modulo N; Python's `hash()` is salted per process), each shard
is this class unchanged with `max_pending / N`, and every shard's joined pairs feed the same accuracy windows. A large
deployment would not keep this in Ray actors at all: a key-value store with per-key TTL (Redis `SET id record EX
ttl`, `GETDEL` to join once) or a streaming join of the prediction log and the label stream (Kafka topics joined
in Flink or Kafka Streams with a TTL'd state store) gives the same answers with durability and replay.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import Field, field_validator

from monitoring.contract import Strict

# The longest request id a label may name (the gateway's own ids are at most 128 characters).
MAX_REQUEST_ID_CHARS = 256
# The longest string label: class labels are kept per version (up to 1000 of them), so each must stay small.
MAX_LABEL_CHARS = 256

Scalar = bool | int | float | str


class PredictionRecord(Strict):
    """One served request, as the gateway records it to wait for its labels."""

    request_id: str = Field(description="The request's `x-request-id`, the key a label names.")
    model: str = Field(description="Registered model name.")
    version: str = Field(description="Version number (as a string) that answered.")
    predictions: list[Any] = Field(description="One prediction per row of the request: class labels or numbers.")
    served_at_s: float = Field(description="When the prediction was served, Unix seconds.")


class LabelItem(Strict):
    """The ground truth of one earlier request: one label for a one-row request, or one per row."""

    request_id: str = Field(
        min_length=1, max_length=MAX_REQUEST_ID_CHARS, description="The `x-request-id` the prediction came with."
    )
    label: Scalar | list[Scalar] = Field(description="The true label (or value) of each row, in row order.")

    @field_validator("label")
    @classmethod
    def _finite_short_and_not_empty(cls, label: Scalar | list[Scalar]) -> Scalar | list[Scalar]:
        values = label if isinstance(label, list) else [label]
        if not values:
            raise ValueError("an empty list labels no row")
        if any(isinstance(value, float) and not math.isfinite(value) for value in values):
            raise ValueError("labels must be finite numbers")
        if any(isinstance(value, str) and len(value) > MAX_LABEL_CHARS for value in values):
            raise ValueError(f"string labels must be at most {MAX_LABEL_CHARS} characters")
        return label

    def rows(self) -> list[Scalar]:
        """The label of each row (a single label is the one row's)."""
        return list(self.label) if isinstance(self.label, list) else [self.label]


class JoinedLabel(Strict):
    """A prediction paired with its labels, for the version's accuracy window."""

    request_id: str = Field(description="The request both came with.")
    version: str = Field(description="Version number (as a string) that served the predictions.")
    predictions: list[Any] = Field(description="What the version predicted, one per row.")
    labels: list[Any] = Field(description="The ground truth, one per row, in the same order.")
    delay_s: float = Field(description="Seconds from serving the prediction to joining its label.")


class JoinResult(Strict):
    """What became of each label item of one feedback call."""

    accepted: int = Field(description="Items joined with their prediction (each is in `joined`).")
    unknown: int = Field(description="Items naming a request id the store never held (or forgot long ago).")
    expired: int = Field(description="Items whose prediction waited longer than the TTL or was dropped for size.")
    duplicate: int = Field(description="Items whose prediction was already joined with an earlier label.")
    mismatched: list[str] = Field(
        description="Request ids whose label list length differs from the prediction's rows; the prediction waits on."
    )
    joined: list[JoinedLabel] = Field(description="The accepted pairs, in item order.")


class _Waiting(NamedTuple):
    """A pending prediction as the store keeps it: a plain tuple is about a third of the pydantic record's size."""

    version: str
    predictions: list[Any]
    served_at_s: float


class _Outcome(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"
    MISMATCHED = "mismatched"
    JOINED = "joined"


class _ModelStore:
    """One model's pending predictions and tombstones, each earliest first, under the model's last spec values."""

    def __init__(self) -> None:
        self.ttl_s, self.max_pending = 0.0, 1
        self.pending: OrderedDict[str, _Waiting] = OrderedDict()
        # An id that left the pending set: what a later label for it is told (expired or duplicate), and when it left.
        self.gone: OrderedDict[str, tuple[_Outcome, float]] = OrderedDict()

    def limit(self, ttl_s: float, max_pending: int) -> None:
        self.ttl_s, self.max_pending = ttl_s, max_pending

    def put(self, record: PredictionRecord, now_s: float) -> None:
        # A repeated id replaces the earlier record and counts as the newest; it is pending again, not gone.
        self.pending.pop(record.request_id, None)
        self.gone.pop(record.request_id, None)
        waiting = _Waiting(sys.intern(record.version), record.predictions, record.served_at_s)
        if _expired(waiting, now_s, self.ttl_s):
            self._bury(record.request_id, _Outcome.EXPIRED, now_s)
        else:
            self.pending[record.request_id] = waiting

    def sweep(self, now_s: float, ttl_s: float) -> None:
        """Drop what expired from the front, then the earliest entries beyond `max_pending`; forget tombstones
        older than one more `ttl_s`."""
        while self.pending and _expired(next(iter(self.pending.values())), now_s, ttl_s):
            self._bury(self.pending.popitem(last=False)[0], _Outcome.EXPIRED, now_s)
        while len(self.pending) > self.max_pending:
            self._bury(self.pending.popitem(last=False)[0], _Outcome.EXPIRED, now_s)
        while self.gone and now_s - next(iter(self.gone.values()))[1] > ttl_s:
            self.gone.popitem(last=False)

    def take(self, item: LabelItem, now_s: float, ttl_s: float) -> tuple[_Outcome, JoinedLabel | None]:
        """Join `item` with its pending prediction, or say why not."""
        waiting = self.pending.get(item.request_id)
        if waiting is None:
            outcome, _ = self.gone.get(item.request_id, (_Outcome.UNKNOWN, now_s))
            return outcome, None
        if _expired(waiting, now_s, ttl_s):
            del self.pending[item.request_id]
            self._bury(item.request_id, _Outcome.EXPIRED, now_s)
            return _Outcome.EXPIRED, None
        labels = item.rows()
        if len(labels) != len(waiting.predictions):
            return _Outcome.MISMATCHED, None  # the prediction waits on: the client may still send the right list
        del self.pending[item.request_id]
        self._bury(item.request_id, _Outcome.DUPLICATE, now_s)
        pair = JoinedLabel(
            request_id=item.request_id,
            version=waiting.version,
            predictions=waiting.predictions,
            labels=labels,
            delay_s=now_s - waiting.served_at_s,
        )
        return _Outcome.JOINED, pair

    def empty(self) -> bool:
        return not self.pending and not self.gone

    def _bury(self, request_id: str, outcome: _Outcome, now_s: float) -> None:
        self.gone.pop(request_id, None)
        self.gone[request_id] = (outcome, now_s)
        while len(self.gone) > self.max_pending:
            self.gone.popitem(last=False)


class JoinStore:
    """Predictions waiting for labels, per model, keyed by request id; bounded per model (see the module)."""

    def __init__(self) -> None:
        self._models: dict[str, _ModelStore] = {}

    def record(
        self,
        records: Sequence[PredictionRecord],
        now_s: float,
        ttl_s: Callable[[str], float],
        max_pending: Callable[[str], int],
    ) -> None:
        """Store each record under its model (a repeated request id replaces the earlier record), then expire and
        bound every model the store holds. `ttl_s(model)` and `max_pending(model)` give each model's spec values;
        they are asked about every model held, not only those in `records`."""
        for model in set(self._models) | {record.model for record in records}:
            self._models.setdefault(model, _ModelStore()).limit(ttl_s(model), max_pending(model))
        for record in records:
            self._models[record.model].put(record, now_s)
        for model, store in list(self._models.items()):
            store.sweep(now_s, store.ttl_s)
            if store.empty():
                del self._models[model]

    def join(self, model: str, items: Sequence[LabelItem], now_s: float, ttl_s: float) -> JoinResult:
        """Pair each item with its pending prediction of `model`, in order; each prediction joins at most once."""
        store = self._models.get(model)
        if store is not None:
            store.sweep(now_s, ttl_s)
        outcomes = dict.fromkeys(_Outcome, 0)
        mismatched: list[str] = []
        joined: list[JoinedLabel] = []
        for item in items:
            outcome, pair = (_Outcome.UNKNOWN, None) if store is None else store.take(item, now_s, ttl_s)
            outcomes[outcome] += 1
            if outcome is _Outcome.MISMATCHED:
                mismatched.append(item.request_id)
            if pair is not None:
                joined.append(pair)
        return JoinResult(
            accepted=outcomes[_Outcome.JOINED],
            unknown=outcomes[_Outcome.UNKNOWN],
            expired=outcomes[_Outcome.EXPIRED],
            duplicate=outcomes[_Outcome.DUPLICATE],
            mismatched=mismatched,
            joined=joined,
        )

    def pending_count(self, model: str) -> int:
        """Predictions of `model` waiting for their labels."""
        store = self._models.get(model)
        return 0 if store is None else len(store.pending)

    def tombstone_count(self, model: str) -> int:
        """Ids of `model` remembered after they left the pending set (expired, dropped for size, or joined)."""
        store = self._models.get(model)
        return 0 if store is None else len(store.gone)

    def models(self) -> list[str]:
        """Models with pending predictions or tombstones, by name."""
        return sorted(self._models)


def _expired(waiting: _Waiting, now_s: float, ttl_s: float) -> bool:
    return now_s - waiting.served_at_s > ttl_s
