"""Natural batching of gateway -> version app calls (`deployments/gateway/batcher.py`), with a scripted send."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from deployments.gateway.batcher import VersionBatcher
from deployments.types import Features


def ONE_REPLICA(app: str) -> int:  # noqa: N802 - reads as the constant it stands for
    return 1


def rows(value: float) -> Features:
    return Features(np.array([[value]]))


class ScriptedApp:
    """Answers each request with its value times 10; holds every call until `release()` unless told otherwise."""

    def __init__(self, hold: bool = True) -> None:
        self.calls: list[tuple[str, list[float]]] = []
        self.gate = asyncio.Event()
        self.failing: Exception | None = None
        self.short_answer = False
        if not hold:
            self.gate.set()

    async def send(self, app: str, batch: list[Features]) -> list[float]:
        self.calls.append((app, [float(f.values[0, 0]) for f in batch]))
        await self.gate.wait()
        if self.failing is not None:
            raise self.failing
        answers = [float(f.values[0, 0]) * 10 for f in batch]
        return answers[:-1] if self.short_answer else answers


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_lone_request_leaves_at_once_and_gets_its_own_answer() -> None:
    async def scenario() -> tuple[float, list]:
        app = ScriptedApp(hold=False)
        answer = await VersionBatcher(app.send, ONE_REPLICA).submit("iris-v1", rows(1))
        return answer, app.calls

    assert asyncio.run(scenario()) == (10.0, [("iris-v1", [1.0])])


def test_requests_queue_while_every_slot_is_busy_and_leave_together() -> None:
    async def scenario() -> tuple[list, list]:
        app = ScriptedApp()
        batcher = VersionBatcher(app.send, ONE_REPLICA, max_batch_size=3)
        tasks = [asyncio.create_task(batcher.submit("iris-v1", rows(i))) for i in range(6)]
        await settle()
        # The first left alone; the rest wait for the slot.
        assert (app.calls, [task.done() for task in tasks]) == ([("iris-v1", [0.0])], [False] * 6)
        app.gate.set()
        return list(await asyncio.gather(*tasks)), app.calls

    answers, calls = asyncio.run(scenario())
    assert answers == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert calls == [("iris-v1", [0.0]), ("iris-v1", [1.0, 2.0, 3.0]), ("iris-v1", [4.0, 5.0])]


def test_each_app_has_its_own_slots() -> None:
    async def scenario() -> list:
        app = ScriptedApp()
        batcher = VersionBatcher(app.send, ONE_REPLICA)
        tasks = [asyncio.create_task(batcher.submit(name, rows(1))) for name in ("iris-v1", "iris-v2")]
        await settle()
        app.gate.set()
        await asyncio.gather(*tasks)
        return app.calls

    assert asyncio.run(scenario()) == [("iris-v1", [1.0]), ("iris-v2", [1.0])]


def test_a_failed_call_fails_each_of_its_requests_and_frees_the_slot() -> None:
    async def scenario() -> tuple[list, float]:
        app = ScriptedApp()
        app.failing = ConnectionError("replica died")
        batcher = VersionBatcher(app.send, ONE_REPLICA)
        tasks = [asyncio.create_task(batcher.submit("iris-v1", rows(i))) for i in range(3)]
        await settle()
        app.gate.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        app.failing = None
        return [str(o) for o in outcomes], await batcher.submit("iris-v1", rows(7))

    messages, later = asyncio.run(scenario())
    assert messages == ["replica died"] * 3
    assert later == 70.0


def test_a_request_that_gave_up_while_queued_is_not_sent() -> None:
    async def scenario() -> list:
        app = ScriptedApp()
        batcher = VersionBatcher(app.send, ONE_REPLICA)
        first = asyncio.create_task(batcher.submit("iris-v1", rows(1)))
        impatient = asyncio.create_task(batcher.submit("iris-v1", rows(2)))
        patient = asyncio.create_task(batcher.submit("iris-v1", rows(3)))
        await settle()
        impatient.cancel()
        await settle()
        app.gate.set()
        await asyncio.gather(first, patient)
        return app.calls

    assert asyncio.run(scenario()) == [("iris-v1", [1.0]), ("iris-v1", [3.0])]


def test_an_answer_count_that_does_not_match_fails_the_batch() -> None:
    async def scenario() -> None:
        app = ScriptedApp(hold=False)
        app.short_answer = True
        await VersionBatcher(app.send, ONE_REPLICA).submit("iris-v1", rows(1))

    with pytest.raises(RuntimeError, match="^app 'iris-v1' returned 0 answers for 1 requests$"):
        asyncio.run(scenario())


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        VersionBatcher(ScriptedApp().send, ONE_REPLICA, max_batch_size=0)


def test_slots_follow_the_running_replicas() -> None:
    async def scenario() -> list:
        app = ScriptedApp()
        replicas = {"iris-v1": 2}
        batcher = VersionBatcher(app.send, lambda name: replicas.get(name, 0))
        assert (batcher.slots("iris-v1"), batcher.slots("unknown")) == (2, 1)  # never zero: a request is not stuck
        tasks = [asyncio.create_task(batcher.submit("iris-v1", rows(i))) for i in range(5)]
        await settle()
        app.gate.set()
        await asyncio.gather(*tasks)
        return app.calls

    # two replicas: two calls leave at once, the other three requests wait and leave together
    assert asyncio.run(scenario()) == [("iris-v1", [0.0]), ("iris-v1", [1.0]), ("iris-v1", [2.0, 3.0, 4.0])]


def test_abandoning_an_app_fails_its_queued_and_in_flight_requests_at_once_and_cancels_its_call() -> None:
    async def scenario() -> tuple[int, list, bool, list]:
        app = ScriptedApp()  # the call never returns: a handle waiting for a replica that is gone
        batcher = VersionBatcher(app.send, ONE_REPLICA, max_batch_size=2)
        tasks = [asyncio.create_task(batcher.submit("iris-v1", rows(i))) for i in range(3)]
        other = asyncio.create_task(batcher.submit("iris-v2", rows(9)))
        await settle()  # request 0 in flight, 1 and 2 queued
        failed = batcher.abandon("iris-v1", ConnectionError("no running replica"))
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        app.gate.set()
        return (
            failed,
            [repr(outcome) for outcome in outcomes],
            other.done(),
            [await other, batcher.abandon("x", ValueError())],
        )

    failed, outcomes, other_done_early, rest = asyncio.run(scenario())
    assert failed == 3
    assert outcomes == ["ConnectionError('no running replica')"] * 3
    assert (other_done_early, rest) == (False, [90.0, 0])  # another app's call is left alone


def test_an_app_takes_new_requests_after_it_was_abandoned() -> None:
    async def scenario() -> float:
        app = ScriptedApp()
        batcher = VersionBatcher(app.send, ONE_REPLICA)
        first = asyncio.create_task(batcher.submit("iris-v1", rows(1)))
        await settle()
        batcher.abandon("iris-v1", ConnectionError("gone"))
        with pytest.raises(ConnectionError):
            await first
        await settle()  # the cancelled call frees its slot
        app.gate.set()
        return await batcher.submit("iris-v1", rows(2))

    assert asyncio.run(scenario()) == 20.0


def test_abandoning_a_call_that_has_not_started_yet_still_frees_its_slot() -> None:
    async def scenario() -> float:
        app = ScriptedApp(hold=False)
        batcher = VersionBatcher(app.send, ONE_REPLICA)
        first = asyncio.create_task(batcher.submit("iris-v1", rows(1)))
        await asyncio.sleep(0)  # `submit` ran and created the call's task; the task itself has not run yet
        batcher.abandon("iris-v1", ConnectionError("gone"))
        with pytest.raises(ConnectionError):
            await first
        async with asyncio.timeout(2):  # a leaked slot would hold this request until it timed out
            return await batcher.submit("iris-v1", rows(2))

    assert asyncio.run(scenario()) == 20.0
