"""The predictions a gateway replica served, buffered for the monitor's join store (ground truth joins on them).

The request path only appends a tuple; a background task sends the buffer to the monitor in one call every
`FLUSH_INTERVAL_S` (`drain`), and the feedback route drains it first so a label sent right after its prediction
finds it. The buffer is bounded: past `MAX_BUFFERED` the oldest records are dropped (the monitor unreachable for
that long), never the serving.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

FLUSH_INTERVAL_S = 0.5
MAX_BUFFERED = 50_000


class PredictionLog:
    def __init__(self, clock: Callable[[], float] = time.time, max_buffered: int = MAX_BUFFERED) -> None:
        self._clock = clock
        self._buffer: deque[tuple[str, str, str, list[Any], float]] = deque(maxlen=max_buffered)

    def add(self, request_id: str, model: str, version: str, predictions: list[Any]) -> None:
        self._buffer.append((request_id, model, version, predictions, self._clock()))

    def drain(self) -> list[dict[str, Any]]:
        """Everything buffered, as `monitoring.labels.PredictionRecord` dicts, oldest first; the buffer empties."""
        records = []
        while self._buffer:
            request_id, model, version, predictions, served_at_s = self._buffer.popleft()
            records.append(
                {
                    "request_id": request_id,
                    "model": model,
                    "version": version,
                    "predictions": predictions,
                    "served_at_s": served_at_s,
                }
            )
        return records
