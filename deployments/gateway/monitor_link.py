"""The gateway replica's link to the cluster's monitor (`monitoring.actor`): it sends the predictions it served in
batches off the request path, and forwards labels and status requests.

Runs inside a Serve replica; the handle to the monitor actor is looked up lazily (a GCS call, off the event loop)
and looked up again after a failure, as the stats push does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ray.serve.context import _get_serve_request_context

from deployments.gateway.prediction_log import FLUSH_INTERVAL_S, PredictionLog
from monitoring.labels import LabelItem

logger = logging.getLogger("ray.serve")


class ServeMonitorLink:
    def __init__(self, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.predictions = PredictionLog()
        self._flush_interval_s = flush_interval_s
        self._monitor: Any = None

    def request_id(self) -> str | None:
        return _get_serve_request_context().request_id or None

    async def status(self, model: str) -> dict[str, Any]:
        return await (await self._handle()).status.remote(model)

    async def detail(self, model: str) -> dict[str, Any]:
        return await (await self._handle()).detail.remote(model)

    async def feedback(self, model: str, items: list[LabelItem]) -> dict[str, Any]:
        # This replica's predictions first, so a label sent right after its prediction finds it.
        await self.flush()
        return await (await self._handle()).feedback.remote(model, [item.model_dump() for item in items])

    async def flush(self) -> None:
        records = self.predictions.drain()
        if records:
            await (await self._handle()).record.remote(records)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            try:
                await self.flush()
            except Exception:  # the monitor may be restarting; these predictions can no longer be labelled
                logger.exception("could not send served predictions to the monitor")
                self._monitor = None

    async def _handle(self) -> Any:
        if self._monitor is None:
            from monitoring.actor import get_or_create_monitor

            self._monitor = await asyncio.to_thread(get_or_create_monitor)
        return self._monitor
