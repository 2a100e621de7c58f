from __future__ import annotations

import random

import pytest

from deployments.errors import PinningNotAllowedError
from deployments.routing import choose_version, plan_route, sticky_draw
from deployments.traffic_policy import ModelPolicy, VersionRoute
from rayship.errors import VersionNotFoundError


def routes(*pairs: tuple[str, int]) -> list[VersionRoute]:
    return [VersionRoute(version=v, app=f"iris-v{v}", weight=w) for v, w in pairs]


def policy(**changes: object) -> ModelPolicy:
    base = {
        "versions": [
            {"version": "1", "app": "iris-v1", "weight": 90},
            {"version": "2", "app": "iris-v2", "weight": 10},
        ],
        "champion": "1",
    }
    return ModelPolicy.model_validate({**base, **changes})


def test_the_choice_is_deterministic_for_a_draw() -> None:
    split = routes(("1", 90), ("2", 10))
    assert choose_version(split, 0.0) == "1"
    assert choose_version(split, 0.8999) == "1"
    assert choose_version(split, 0.9) == "2"
    assert choose_version(split, 0.999999) == "2"


def test_the_choice_ignores_list_order_and_zero_weights() -> None:
    assert choose_version(routes(("2", 10), ("1", 90)), 0.5) == "1"
    assert choose_version(routes(("1", 0), ("2", 100)), 0.0) == "2"
    assert choose_version(routes(("10", 50), ("9", 50)), 0.1) == "9"  # numeric order, not string order


def test_the_split_is_within_tolerance_over_10000_draws() -> None:
    rng = random.Random(7)
    split = routes(("1", 90), ("2", 10))
    chosen = [choose_version(split, rng.random()) for _ in range(10_000)]
    assert abs(chosen.count("2") / 10_000 - 0.10) < 0.01


def test_draws_outside_0_1_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"the draw must be in \[0, 1\), got 1.0"):
        choose_version(routes(("1", 100)), 1.0)


@pytest.mark.parametrize("candidate,champion", [("2", "1"), ("1", "2")])
def test_sticky_users_only_move_from_champion_to_candidate(candidate: str, champion: str) -> None:
    users = [f"user-{i}" for i in range(2_000)]
    assigned_before = {user: champion for user in users}
    for weight in range(0, 101, 5):
        split = routes((candidate, weight), (champion, 100 - weight))
        for user in users:
            now = choose_version(split, sticky_draw(user))
            if assigned_before[user] == candidate:
                assert now == candidate, f"{user} moved back at weight {weight}"
            assigned_before[user] = now
    assert set(assigned_before.values()) == {candidate}


def test_sticky_draw_is_stable_and_in_range() -> None:
    assert sticky_draw("alice") == sticky_draw("alice")
    assert sticky_draw("alice") != sticky_draw("bob")
    # sha256("alice") starts with 2bd806c97f0e00af: a fixed value in every process.
    assert sticky_draw("alice") == (0x2BD806C97F0E00AF >> 11) / 2**53
    assert all(0.0 <= sticky_draw(str(i)) < 1.0 for i in range(1000))


def test_plan_fails_over_to_the_champion_only_from_a_candidate() -> None:
    plan = plan_route(policy(), "iris", u=0.95, shadow_u=0.99)
    assert (plan.primary.version, plan.fallback.version, plan.shadow) == ("2", "1", None)
    plan = plan_route(policy(), "iris", u=0.1, shadow_u=0.99)
    assert (plan.primary.version, plan.fallback) == ("1", None)
    assert plan_route(policy(failover=False), "iris", u=0.95, shadow_u=0.99).fallback is None


def test_plan_shadows_the_given_percentage() -> None:
    shadowed = policy(
        versions=[{"version": "1", "app": "iris-v1", "weight": 100}, {"version": "2", "app": "iris-v2", "weight": 0}],
        shadow={"version": "2", "percent": 10},
    )
    assert plan_route(shadowed, "iris", u=0.5, shadow_u=0.05).shadow.version == "2"
    assert plan_route(shadowed, "iris", u=0.5, shadow_u=0.10).shadow is None


def test_pinning_picks_the_version_without_failover() -> None:
    plan = plan_route(policy(), "iris", u=0.1, shadow_u=0.0, pinned="2")
    assert (plan.primary.version, plan.fallback, plan.shadow) == ("2", None, None)
    with pytest.raises(VersionNotFoundError, match="^Model 'iris' has no version '7'$"):
        plan_route(policy(), "iris", u=0.1, shadow_u=0.0, pinned="7")
    with pytest.raises(PinningNotAllowedError, match="^Model 'iris' does not allow pinning a version$"):
        plan_route(policy(allow_pinning=False), "iris", u=0.1, shadow_u=0.0, pinned="1")
