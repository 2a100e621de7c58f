"""The replica side of monitoring: push a version replica's cumulative sketch to the monitor every few seconds.

Runs as one asyncio task in the replica, off the request path: the model calls only add counts to the `Sketch`.
It also re-reads the model's monitoring spec from the registry now and then, so a `monitoring apply` reaches the
monitor without a redeploy. Any failure (the monitor restarting, the registry down) is logged and retried at the
next interval: monitoring never fails a prediction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from monitoring.errors import MonitorSpecError
from monitoring.monitor import MonitorPush, PushReply, profile_digest
from monitoring.profile import ReferenceProfile
from monitoring.sketch import Sketch
from monitoring.spec import MonitorSpec, parse_spec

logger = logging.getLogger("ray.serve")

PUSH_INTERVAL_S = 2.0
SPEC_REFRESH_S = 30.0


class SketchReporter:
    def __init__(
        self, model: str, version: str, replica: str, profile: ReferenceProfile | None, interval_s: float
    ) -> None:
        self.model, self.version, self.replica = model, version, replica
        self.profile = profile
        self.sketch = Sketch(profile) if profile is not None else None
        self._digest = profile_digest(profile) if profile is not None else None
        self._interval_s = interval_s
        self._started_at = time.time()
        self._spec: MonitorSpec | None = None
        self._spec_read_at = float("-inf")
        self._monitor: Any = None
        self._send_profile = True

    async def run_forever(self) -> None:
        while True:
            try:
                await self.push_once()
            except Exception:  # the monitor may be restarting: the counts are cumulative, the next push catches up
                logger.exception("could not push monitoring counts")
                self._monitor = None
            await asyncio.sleep(self._interval_s)

    async def push_once(self) -> PushReply:
        from monitoring.actor import get_or_create_monitor

        if time.monotonic() - self._spec_read_at >= SPEC_REFRESH_S:
            self._spec = await asyncio.to_thread(self._read_spec)
            self._spec_read_at = time.monotonic()
        if self._monitor is None:
            self._monitor = await asyncio.to_thread(get_or_create_monitor)
        reply = PushReply.model_validate(await self._monitor.push.remote(self._push().model_dump(mode="json")))
        self._send_profile = reply.need_profile
        return reply

    def _push(self) -> MonitorPush:
        return MonitorPush(
            model=self.model,
            version=self.version,
            replica=self.replica,
            replica_started_at=self._started_at,
            profile_digest=self._digest,
            profile=self.profile if self._send_profile else None,
            spec=self._spec,
            counts=self.sketch.snapshot() if self.sketch is not None else None,
        )

    def _read_spec(self) -> MonitorSpec | None:
        from registry import tags
        from registry.catalog import model_tag

        try:
            text = model_tag(self.model, tags.MONITORING_SPEC)
        except Exception:  # keep the spec last read; the registry may be briefly down
            logger.warning("could not read the monitoring spec of %s; keeping the last one", self.model)
            return self._spec
        return None if text is None else parse_spec_json(text, self.model)


def parse_spec_json(text: str, model: str) -> MonitorSpec | None:
    """A stored spec, or None (defaults) when the tag is not a valid spec - logged, never raised."""
    try:
        return parse_spec(json.loads(text), f"tag of model '{model}'")
    except (ValueError, MonitorSpecError) as exc:
        logger.error("ignoring the stored monitoring spec of %s: %s", model, exc)
        return None
