"""Durable rollout state: atomic state file, append-only event log with typed effects, and replay after `kill -9`
at every point between deciding a step and recording it as applied, through the one recovery path the driver
uses (`rollout.steps.StepExecutor.recover`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deployments.app_config import version_app
from deployments.traffic_policy import ShadowPolicy
from rollout.core.state_machine import Phase, RolloutState
from rollout.effects import DeployEffect, NoEffect, RemoveEffect, RouteEffect, Routes, Verdict
from rollout.errors import CorruptStoreError, StoreConflictError
from rollout.persistence.store import RolloutStore
from rollout.steps import StepExecutor

WEIGHTS = [10, 25, 50, 75]
ADVANCE = RouteEffect(weights={"1": 90, "2": 10}, champion="1")


def initial_state() -> RolloutState:
    return RolloutState(
        rollout_id="r1", model="iris", strategy="canary", champion="1", candidate="2",
        started_at_s=0, interval_started_at_s=0,
    )  # fmt: skip


def test_begin_then_commit_logs_one_event_and_clears_the_intent(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    after = initial_state().model_copy(update={"candidate_weight": 10, "phase": Phase.PROGRESSING})
    intent = store.begin("advance", ADVANCE, after, "step 1/4", now_s=5)
    pending = store.load()
    assert pending.pending == intent
    assert pending.state.candidate_weight == 0  # the state before the action, until it is applied
    store.commit(intent, now_s=6)
    stored = store.load()
    assert (stored.pending, stored.state, stored.next_step_id) == (None, after, 2)
    [event] = store.events()
    assert (event.step_id, event.action, event.candidate_weight, event.phase) == (
        1,
        "advance",
        10,
        "Progressing",
    )
    assert (event.decided_at_s, event.applied_at_s, event.replayed) == (5, 6, False)


def test_a_second_intent_while_one_is_pending_is_refused(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    store.begin("advance", ADVANCE, initial_state(), "x", now_s=1)
    with pytest.raises(StoreConflictError) as caught:
        store.begin("advance", ADVANCE, initial_state(), "y", now_s=2)
    assert str(caught.value) == "Rollout store of model 'iris': step 1 is pending; recover first"
    with pytest.raises(StoreConflictError, match="step 1 of the last rollout is not applied yet"):
        store.create(initial_state())


def test_save_state_needs_a_started_rollout(tmp_path: Path) -> None:
    with pytest.raises(StoreConflictError) as caught:
        RolloutStore(tmp_path, "iris").save_state(initial_state())
    assert str(caught.value) == "Rollout store of model 'iris': no rollout has been started"


class Untouchable:
    """A router that fails the test when it is used."""

    def __getattr__(self, name: str) -> None:
        pytest.fail(f"nothing to apply, yet the router's {name} was called")


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def now(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        pytest.fail("no retry expected")


class LoggingRouter(Untouchable):
    """Records each split it is given (the only verb a canary's advances use)."""

    def __init__(self) -> None:
        self.routes: list[dict[str, int]] = []

    def set_routes(self, model: str, routes: Routes) -> None:
        self.routes.append(routes.weights)


def executor(store: RolloutStore, router: object, now_s: float = 0) -> StepExecutor:
    return StepExecutor(
        model="iris", router=router, store=store, clock=Clock(now_s), registry=None, attempts=1, retry_backoff_s=0
    )


def test_recover_without_pending_intent_applies_nothing(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    assert executor(store, Untouchable()).recover() is None
    store.create(initial_state())
    assert executor(store, Untouchable()).recover() is None


@pytest.mark.parametrize(
    "effect",
    [
        DeployEffect(version="2", app=version_app("iris", "2", deployment={"ray_actor_options": {"num_cpus": 0.25}})),
        RouteEffect(
            weights={"1": 50, "2": 50},
            shadow=ShadowPolicy(version="2", percent=10),
            champion="1",
            sticky_header="x-tenant",
            verdict=Verdict(verdict="concluded", champion="1", candidate="2"),
        ),
        RemoveEffect(version="2", app="iris-v2"),
        NoEffect(),
    ],
    ids=lambda effect: effect.kind,
)
def test_every_effect_round_trips_through_the_state_file_and_the_event_log(tmp_path: Path, effect) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    intent = store.begin("step", effect, initial_state(), "why", now_s=1)
    assert RolloutStore(tmp_path, "iris").load().pending.effect == effect
    store.commit(intent, now_s=2)
    assert RolloutStore(tmp_path, "iris").events()[0].effect == effect


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    store.commit(store.begin("advance", ADVANCE, initial_state(), "a", now_s=1), now_s=1)
    with store.events_path.open("a") as handle:
        handle.write('{"step_id": 2, "rollout_')  # a crash mid-append
    assert [event.step_id for event in store.events()] == [1]
    store.commit(store.begin("advance", ADVANCE, initial_state(), "b", now_s=2), now_s=2)
    assert [event.step_id for event in store.events()] == [1, 2]


def test_corrupt_state_file_is_reported(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    store.state_path.write_text("{}")
    with pytest.raises(CorruptStoreError, match=r"^Rollout store file .*state.json is unreadable: Field required$"):
        store.load()


# A miniature driver in a child process: the driver's own StepExecutor, recovering first, then for each weight
# `perform` (begin -> the router applies it, appending to router.log -> commit). It SIGKILLs itself at the requested
# step and point, which is what `kill -9` at that instant would do.
DRIVER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from rollout.clock import SystemClock
    from rollout.persistence import store as store_module
    from rollout.core.state_machine import Phase, RolloutState
    from rollout.effects import RouteEffect
    from rollout.persistence.store import RolloutStore
    from rollout.steps import StepExecutor

    root, crash_step, crash_point = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    weights = json.loads(sys.argv[4])

    def crash_if(step, point):
        if (step, point) == (crash_step, crash_point):
            os.kill(os.getpid(), signal.SIGKILL)

    class LoggingRouter:
        def set_routes(self, model, routes):
            step = store.load().pending.step_id
            crash_if(step, "after_begin")
            with (root / "router.log").open("a") as log:
                log.write(json.dumps({"weights": routes.weights}) + "\\n")
            crash_if(step, "after_apply")

    store = RolloutStore(root, "iris")
    steps = StepExecutor(model="iris", router=LoggingRouter(), store=store, clock=SystemClock(), registry=None,
                         attempts=1, retry_backoff_s=0)
    original_write = store_module.write_atomically

    def write_then_maybe_crash(path, text):
        pending = json.loads(text)["pending"]
        if pending is None and path.name == "state.json" and store.events():
            crash_if(store.events()[-1].step_id, "after_append")
        original_write(path, text)

    store_module.write_atomically = write_then_maybe_crash
    steps.recover()
    if store.load() is None:
        store.create(RolloutState(rollout_id="r1", model="iris", strategy="canary", champion="1",
                                  candidate="2", started_at_s=0, interval_started_at_s=0))
    while True:
        state = store.load().state
        if state.step_index + 1 >= len(weights):
            break
        index = state.step_index + 1
        after = state.model_copy(update={"step_index": index, "candidate_weight": weights[index],
                                         "phase": Phase.PROGRESSING})
        step_id = store.load().next_step_id
        crash_if(step_id, "before_begin")
        effect = RouteEffect(weights={"1": 100 - weights[index], "2": weights[index]}, champion="1")
        steps.perform("advance", effect, after, f"step {index + 1}")
        crash_if(step_id, "after_commit")
    """
)


def run_driver(root: Path, crash_step: int, crash_point: str) -> int:
    command = [sys.executable, "-c", DRIVER, str(root), str(crash_step), crash_point, json.dumps(WEIGHTS)]
    return subprocess.run(command, capture_output=True, text=True, check=False).returncode


POINTS = ["before_begin", "after_begin", "after_apply", "after_append", "after_commit"]


@pytest.mark.parametrize("crash_step", [3])
@pytest.mark.parametrize("crash_point", POINTS)
def test_kill_9_then_rerun_applies_each_weight_exactly_once(tmp_path: Path, crash_step: int, crash_point: str) -> None:
    assert run_driver(tmp_path, crash_step, crash_point) == -signal.SIGKILL
    assert run_driver(tmp_path, crash_step=0, crash_point="never") == 0
    store = RolloutStore(tmp_path, "iris")
    events = store.events()
    assert [event.step_id for event in events] == [1, 2, 3, 4]
    assert [event.candidate_weight for event in events] == WEIGHTS
    replayed = [event.step_id for event in events if event.replayed]
    # Only a crash after the router call and before the log append makes recovery apply the step again.
    assert replayed == ([crash_step] if crash_point in {"after_begin", "after_apply"} else [])
    applied = [json.loads(line)["weights"]["2"] for line in (tmp_path / "router.log").read_text().splitlines()]
    expected = list(WEIGHTS)
    if crash_point == "after_apply":
        expected.insert(crash_step, WEIGHTS[crash_step - 1])  # the same absolute weights once more: idempotent
    assert applied == expected
    final = store.load()
    assert (final.pending, final.state.candidate_weight, final.next_step_id) == (None, 75, 5)


def test_replayed_intent_is_the_persisted_one(tmp_path: Path) -> None:
    assert run_driver(tmp_path, 2, "after_begin") == -signal.SIGKILL
    store = RolloutStore(tmp_path, "iris")
    router = LoggingRouter()
    replayed = executor(store, router, now_s=99).recover()
    assert router.routes == [replayed.effect.weights]
    assert (replayed.step_id, replayed.effect.weights) == (2, {"1": 75, "2": 25})
    assert store.events()[-1].applied_at_s == 99


def test_a_failed_step_is_logged_and_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    store.create(initial_state())
    after = initial_state().model_copy(update={"candidate_weight": 10})
    deploy = DeployEffect(version="2", app=version_app("iris", "2"))
    intent = store.begin("deploy_candidate", deploy, after, "deploy 2", now_s=1)
    store.commit(intent, now_s=2, error="Application 'iris-v2' did not start: DEPLOY_FAILED")
    stored = store.load()
    assert (stored.state, stored.pending, stored.next_step_id) == (initial_state(), None, 2)
    assert store.events()[0].error == "Application 'iris-v2' did not start: DEPLOY_FAILED"


def test_abort_requests(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path, "iris")
    assert store.abort_request() is None
    store.request_abort("operator says so")
    assert store.abort_request() == "operator says so"
    store.clear_abort()
    assert store.abort_request() is None
