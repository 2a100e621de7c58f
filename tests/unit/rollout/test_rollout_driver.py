"""The driver loop end to end with a fake clock, an in-memory router and simulated gateway traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayship.errors import LeaseHeldError
from rayship.lease import LeaseFile
from rollout.adapters.routers.base import Router
from rollout.core.state_machine import Phase
from rollout.errors import NotAChangeError
from rollout.live_config import parse_live_config
from rollout.persistence.history import Progress, ProgressLog
from rollout.presentation.report import analysed_intervals, write_report
from rollout.spec_file import load_spec
from tests.unit.rollout.driver_fakes import (
    SPEC,
    Crash,
    FakeClock,
    FakeRouter,
    World,
    find_app,
    serve_config,
)
from tests.unit.rollout.serve_fakes import policy_of


def test_fake_router_is_a_router(tmp_path: Path) -> None:
    assert isinstance(FakeRouter(FakeClock()), Router)


def test_a_good_candidate_is_promoted(tmp_path: Path) -> None:
    world = World(tmp_path)
    final = world.driver().run("2")
    assert (final.phase, final.candidate_weight) == (Phase.SUCCEEDED, 100)
    assert world.actions() == [
        ("deploy_candidate", 0),
        ("advance", 10),
        ("advance", 25),
        ("advance", 50),
        ("advance", 75),
        ("promote", 100),
        ("remove_version", 100),
    ]
    assert all(event.error is None for event in world.store.events())
    assert world.event_time("promote") - world.event_time("advance") >= SPEC.interval_s * len(SPEC.schedule())
    assert world.event_time("remove_version") - world.event_time("promote") >= SPEC.warm_window_s
    policy = policy_of(world.router.config, "iris")
    assert (policy["versions"], policy["champion"]) == (
        [{"version": "2", "app": "iris-v2", "weight": 100}],
        "2",
    )
    assert find_app(world.router.config, "iris-v1") is None
    assert find_app(world.router.config, "iris-v2").deployments == find_app(serve_config(), "iris-v1").deployments
    assert world.registry.outcomes == [("iris", "1", "2", "promoted")]
    assert LeaseFile(tmp_path, "iris").read() is None


def test_the_version_app_runs_before_any_weight_names_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.driver().run("2")
    first, second = world.router.writes[0], world.router.writes[1]
    assert find_app(first, "iris-v2") is not None
    assert parse_live_config(first).weights("iris") == {"1": 100, "2": 0}
    assert parse_live_config(second).weights("iris") == {"1": 90, "2": 10}


def test_a_broken_candidate_is_rolled_back_quickly(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.gateway.broken_from["2"] = 0  # fails from its first request
    final = world.driver().run("2")
    assert (final.phase, final.candidate_weight) == (Phase.FAILED, 0)
    assert world.actions() == [
        ("deploy_candidate", 0),
        ("advance", 10),
        ("rollback", 0),
        ("remove_version", 0),
    ]
    fault_to_weight_zero = world.event_time("rollback") - world.event_time("advance")
    assert fault_to_weight_zero <= SPEC.interval_s * (SPEC.threshold + 1) + 2 * world.router.write_s
    assert world.router.weights() == {"1": 100}
    assert find_app(world.router.config, "iris-v2") is None
    assert world.registry.outcomes == [("iris", "1", "2", "rolled_back")]
    rollback = next(p for p in world.progress if p.action == "rollback")
    assert {check.name for check in rollback.checks if not check.passed} >= {"candidate_error_rate"}


def test_a_candidate_breaking_mid_rollout_is_rolled_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.gateway.broken_from["2"] = world.clock.now() + 7
    final = world.driver().run("2")
    assert final.phase is Phase.FAILED
    actions = [action for action, _ in world.actions()]
    assert actions[-2:] == ["rollback", "remove_version"]
    rollback_at = world.event_time("rollback")
    assert rollback_at - world.gateway.broken_from["2"] <= SPEC.interval_s * (SPEC.threshold + 1) + 1.0


def test_a_candidate_that_fails_to_start_is_aborted_and_the_champion_untouched(tmp_path: Path) -> None:
    world = World(tmp_path, failing_apps=("iris-v2",))
    final = world.driver().run("2")
    assert final.phase is Phase.FAILED
    assert final.message == "aborted: version 2 failed to start"
    events = world.store.events()
    assert [event.action for event in events] == ["deploy_candidate", "rollback", "remove_version"]
    assert events[0].error == "Application 'iris-v2' did not start: DEPLOY_FAILED (ModuleNotFoundError: no model)"
    assert all(parse_live_config(config).weights("iris")["1"] == 100 for config in world.router.writes)
    assert [app["name"] for app in world.router.config["applications"]] == ["gateway", "iris-v1"]
    assert find_app(world.router.config, "iris-v1") == find_app(serve_config(), "iris-v1")
    assert (world.router.weights(), policy_of(world.router.config, "iris")["champion"]) == (
        {"1": 100},
        "1",
    )
    assert world.registry.outcomes == [("iris", "1", "2", "aborted")]


@pytest.mark.parametrize("crash_on_write", [2, 3, 4, 6, 7])
def test_killed_mid_rollout_the_rerun_applies_each_weight_exactly_once(tmp_path: Path, crash_on_write: int) -> None:
    world = World(tmp_path)
    world.router.crash_on_write = crash_on_write  # the router applied the write, then the driver died
    with pytest.raises(Crash):
        world.driver(owner="first").run("2")
    world.router.crash_on_write = None
    final = world.driver(owner="second").run("2")
    assert final.phase is Phase.SUCCEEDED
    events = world.store.events()
    assert [event.step_id for event in events] == list(range(1, len(events) + 1))
    assert [(e.action, e.candidate_weight) for e in events if e.action == "advance"] == [
        ("advance", 10),
        ("advance", 25),
        ("advance", 50),
        ("advance", 75),
    ]
    assert [event.step_id for event in events if event.replayed] == [crash_on_write]
    assert world.registry.outcomes[-1] == ("iris", "1", "2", "promoted")


def test_a_second_driver_is_refused_by_the_lease(tmp_path: Path) -> None:
    world = World(tmp_path)
    LeaseFile(tmp_path, "iris").acquire("host:1:other", ttl_s=60, now_s=world.clock.now())
    with pytest.raises(LeaseHeldError, match="is driven by 'host:1:other'"):
        world.driver().run("2")
    assert world.router.writes == []


def test_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    world = World(tmp_path)
    LeaseFile(tmp_path, "iris").acquire("host:1:dead", ttl_s=600, now_s=world.clock.now())
    final = world.driver(holder_alive=lambda owner: owner != "host:1:dead").run("2")
    assert final.phase is Phase.SUCCEEDED


def test_an_abort_request_rolls_back_mid_rollout(tmp_path: Path) -> None:
    world = World(tmp_path)

    def abort_at_25(progress: Progress) -> None:
        world.progress.append(progress)
        if progress.action == "advance" and progress.state.candidate_weight == 25:
            world.store.request_abort("operator said so")

    final = world.driver(on_progress=abort_at_25).run("2")
    assert (final.phase, final.message) == (Phase.FAILED, "aborted: operator said so")
    assert [action for action, _ in world.actions()][-2:] == ["rollback", "remove_version"]
    assert world.registry.outcomes == [("iris", "1", "2", "aborted")]


def test_an_abort_in_the_warm_window_reverts_a_promotion(tmp_path: Path) -> None:
    world = World(tmp_path)

    def abort_after_promotion(progress: Progress) -> None:
        if progress.action == "promote":
            world.store.request_abort("bad business metrics")

    final = world.driver(on_progress=abort_after_promotion).run("2")
    assert final.phase is Phase.FAILED
    assert [action for action, _ in world.actions()][-3:] == ["promote", "revert", "remove_version"]
    assert world.router.weights() == {"1": 100}
    assert policy_of(world.router.config, "iris")["champion"] == "1"
    assert world.registry.outcomes == [("iris", "1", "2", "promoted"), ("iris", "1", "2", "reverted")]


def test_abort_now_without_a_running_driver(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.router.crash_on_write = 3  # the first driver died at 25 %
    with pytest.raises(Crash):
        world.driver(owner="first").run("2")
    final = world.driver(owner="aborter").abort_now("stop")
    assert (final.phase, final.message) == (Phase.FAILED, "aborted: stop")
    assert world.router.weights() == {"1": 100}
    assert find_app(world.router.config, "iris-v2") is None
    assert world.driver(owner="aborter").abort_now("again") == final


def test_no_stats_is_inconclusive_and_pauses_never_promotes(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.gateway.unavailable = True

    class Stop(BaseException):
        pass

    def stop_on_pause(progress: Progress) -> None:
        world.progress.append(progress)
        if progress.action == "pause":
            raise Stop

    with pytest.raises(Stop):
        world.driver(on_progress=stop_on_pause).run("2")
    assert [action for action, _ in world.actions()] == ["deploy_candidate", "advance", "pause"]
    assert world.store.load().state.phase is Phase.PAUSED
    assert world.router.weights() == {"1": 90, "2": 10}


def test_a_new_candidate_mid_rollout_restarts(tmp_path: Path) -> None:
    world = World(tmp_path)
    target = {"version": "2"}

    def switch_at_50(progress: Progress) -> None:
        if progress.action == "advance" and progress.state.candidate_weight == 50 and progress.state.candidate == "2":
            target["version"] = "3"

    final = world.driver(on_progress=switch_at_50, candidate_resolver=lambda: target["version"]).run("2")
    assert (final.phase, final.candidate) == (Phase.SUCCEEDED, "3")
    actions = [action for action, _ in world.actions()]
    assert actions[:5] == ["deploy_candidate", "advance", "advance", "advance", "restart"]
    assert actions[5:] == [
        "deploy_candidate",
        "advance",
        "advance",
        "advance",
        "advance",
        "promote",
        "remove_version",
    ]
    assert ("iris", "1", "2", "superseded") in world.registry.outcomes


def test_rolling_out_the_champion_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAChangeError, match="^Version '1' already is the champion of model 'iris'$"):
        World(tmp_path).driver().run("1")


@pytest.mark.parametrize("tick_s", [0.0, 0.001])
@pytest.mark.parametrize(("broken", "verdict"), [(False, "promoted"), (True, "rolled_back")])
def test_the_report_tells_the_story(tmp_path: Path, broken: bool, verdict: str, tick_s: float) -> None:
    world = World(tmp_path)
    world.clock.tick_s = tick_s
    if broken:
        world.gateway.broken_from["2"] = 0
    history = ProgressLog(tmp_path, "iris")
    world.driver(on_progress=history.append).run("2")
    records = history.read("r1")
    files = write_report(tmp_path / "reports", records, world.store.events())
    markdown = files.markdown.read_text()
    assert files.markdown.name == "iris-r1.md"
    assert markdown.startswith("# Rollout r1: iris 1 -> 2 (canary)\n\n**Verdict: " + verdict + "** - ")
    assert "![candidate weight, error rate and p99 per version](iris-r1.png)" in markdown
    for event in world.store.events():
        assert any(
            line.startswith(f"| {event.step_id} | ") and f"| {event.action} | {event.candidate_weight}% |" in line
            for line in markdown.splitlines()
        ), event.action
    intervals = analysed_intervals(records, world.store.events())
    assert intervals, "the report lists the analysed intervals"
    assert all(interval.candidate.requests > 0 for interval in intervals)
    if broken:
        assert intervals[-1].failed_checks[0] == "candidate_error_rate"
        assert intervals[-1].candidate.errors == intervals[-1].candidate.requests
    else:
        assert [interval.candidate_weight for interval in intervals] == [10, 25, 50, 75]
    png = files.plot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


SHIPPED_CANARY = load_spec(Path(__file__).resolve().parents[3] / "configs" / "rollouts" / "canary.yaml")


@pytest.mark.parametrize("fault_after_s", [0.0, 1.3, 3.9, 5.2, 8.0])
def test_shipped_canary_takes_a_broken_candidate_to_zero_within_ten_seconds(
    tmp_path: Path, fault_after_s: float
) -> None:
    """On the fake clock, 15 requests/s, each Serve write taking 0.5 s: fault onset -> weight 0 <= 10 s."""
    world = World(tmp_path, spec=SHIPPED_CANARY)
    world.gateway.rps = 15
    rollout_started = world.clock.now()
    world.gateway.broken_from["2"] = rollout_started + fault_after_s
    world.driver().run("2")
    rollback = next(event for event in world.store.events() if event.action == "rollback")
    onset = max(world.gateway.broken_from["2"], world.event_time("advance"))
    assert rollback.applied_at_s - onset <= 10


def test_shipped_canary_promotes_a_good_candidate_within_a_minute(tmp_path: Path) -> None:
    world = World(tmp_path, spec=SHIPPED_CANARY)
    world.gateway.rps = 15
    world.driver().run("2")
    assert world.event_time("promote") - world.event_time("deploy_candidate") < 60
