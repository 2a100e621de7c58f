"""The contract both routers share, each over its fake backend: two phases, one write per verb, absolute edits,
an unchanged config written back unchanged, and a version app that does not start named in the error."""

from __future__ import annotations

import pytest

from rollout.adapters.routers.base import Router
from rollout.effects import Routes
from rollout.errors import AppStartError
from rollout.live_config import live_config_dict
from rollout.serve_edits import candidate_app
from tests.unit.rollout.serve_fakes import RayServiceHarness, RestHarness, policy_of

Harness = RestHarness | RayServiceHarness


def add_candidate(harness: Harness, timeout_s: float = 30) -> None:
    router = harness.router(timeout_s)
    router.add_version("iris", "2", candidate_app(router.applied(), "iris", "1", "2"))


def test_is_a_router(harness: Harness) -> None:
    assert isinstance(harness.router(), Router)


def test_a_two_phase_canary_through_the_router(harness: Harness) -> None:
    """Add the candidate's app and wait for it, then shift weights: each verb is one write of the whole config."""
    router = harness.router()
    live = router.applied()

    add_candidate(harness)
    added = router.applied()
    router.set_routes("iris", Routes(weights={"1": 90, "2": 10}, champion="1"))

    assert added.app_names() == ["gateway", "iris-v1", "iris-v2"]
    assert added.weights("iris") == {"1": 100, "2": 0}
    assert router.app_statuses()["iris-v2"] == "RUNNING"
    final = router.applied()
    assert final.weights("iris") == {"1": 90, "2": 10}
    assert final.app("iris-v1") == live.app("iris-v1")
    assert final.app("iris-v2").deployments == live.app("iris-v1").deployments
    assert harness.writes() == 2


def test_a_promotion_then_the_old_champion_removed(harness: Harness) -> None:
    router = harness.router()
    add_candidate(harness)
    router.set_routes("iris", Routes(weights={"1": 0, "2": 100}, champion="2"))
    router.remove_version("iris", "1", "iris-v1")
    router.remove_version("iris", "1", "iris-v1")  # a replay: already gone, stays gone

    final = router.applied()
    assert final.app_names() == ["gateway", "iris-v2"]
    assert (final.weights("iris"), final.policy("iris").champion) == ({"2": 100}, "2")


def test_an_unchanged_config_is_written_back_unchanged(harness: Harness) -> None:
    router = harness.router()
    before = router.read_config()

    router.write_config(live_config_dict(router.applied()), [])

    assert router.read_config() == before
    assert policy_of(router.applied(), "iris") == policy_of(before, "iris")


@pytest.mark.parametrize("status", ["DEPLOY_FAILED", "UNHEALTHY"])
def test_a_version_app_that_fails_to_start_is_named(harness: Harness, status: str) -> None:
    harness.fail("iris-v2", status)

    with pytest.raises(AppStartError) as caught:
        add_candidate(harness)

    assert (caught.value.app_name, caught.value.status) == ("iris-v2", status)


def test_a_version_app_that_never_runs_times_out(harness: Harness) -> None:
    harness.hang()

    with pytest.raises(AppStartError) as caught:
        add_candidate(harness, timeout_s=5)

    assert (caught.value.app_name, caught.value.status) == ("iris-v2", "DEPLOYING")
    assert str(caught.value).startswith("Application 'iris-v2' did not start: DEPLOYING (not RUNNING after 5 s")
