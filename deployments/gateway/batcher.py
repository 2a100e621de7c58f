"""Natural batching of the gateway's calls to a version app (transport-free: the send function is injected).

Why: one Serve handle call costs the gateway more CPU than the HTTP request that caused it, so one call per
request made the gateway the bottleneck and left the version replicas predicting tiny batches. Here each app
gets at most `max_in_flight` calls at a time. A request leaves at once while a slot is free (no timer, so no
added latency at low load); while every slot is busy, requests queue and leave together, up to `max_batch_size`
per call, as soon as a slot frees. Batches therefore grow with load, and the version app's own `@serve.batch`
merges what arrives from several gateway replicas.

`submit` resolves to the app's answer for that one request. A failed call fails every request it carried, each
with the same exception: the data plane then counts and fails over each request on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from deployments.types import Features

Answer = TypeVar("Answer")
SendBatch = Callable[[str, list[Features]], Awaitable[list[Answer]]]


@dataclass
class _Lane(Generic[Answer]):
    """One app's queue and the number of its calls in flight."""

    waiting: list[tuple[Features, asyncio.Future[Answer]]] = field(default_factory=list)
    in_flight: int = 0


class VersionBatcher(Generic[Answer]):
    def __init__(self, send: SendBatch, max_batch_size: int = 32, max_in_flight: int = 4) -> None:
        self._send = send
        self._lanes: dict[str, _Lane[Answer]] = {}
        self._tasks: set[asyncio.Task] = set()
        self.configure(max_batch_size, max_in_flight)

    def configure(self, max_batch_size: int, max_in_flight: int) -> None:
        """New limits apply to the next call; calls in flight keep theirs."""
        if max_batch_size < 1 or max_in_flight < 1:
            raise ValueError("max_batch_size and max_in_flight must be at least 1")
        self._max_batch_size, self._max_in_flight = max_batch_size, max_in_flight

    async def submit(self, app: str, features: Features) -> Answer:
        lane = self._lanes.setdefault(app, _Lane())
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        lane.waiting.append((features, answer))
        self._dispatch(app, lane)
        return await answer

    def queued(self, app: str) -> int:
        """Requests waiting for a free slot (not yet sent)."""
        lane = self._lanes.get(app)
        return len(lane.waiting) if lane else 0

    def _dispatch(self, app: str, lane: _Lane[Answer]) -> None:
        while lane.waiting and lane.in_flight < self._max_in_flight:
            batch = [(f, a) for f, a in lane.waiting[: self._max_batch_size] if not a.done()]
            del lane.waiting[: self._max_batch_size]
            if not batch:
                continue  # every request of this slice was cancelled (timed out) while it waited
            lane.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._call(app, lane, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, app: str, lane: _Lane[Answer], batch: list[tuple[Features, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._send(app, [features for features, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"app '{app}' returned {len(answers)} answers for {len(batch)} requests")
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it, whatever it is
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            for (_, waiter), answer in zip(batch, answers, strict=True):
                if not waiter.done():  # its request may have timed out meanwhile
                    waiter.set_result(answer)
        finally:
            lane.in_flight -= 1
            self._dispatch(app, lane)
