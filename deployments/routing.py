"""Choosing a version: pure functions of the weights and a draw `u` in [0, 1).

Each version owns an interval of [0, 1) proportional to its weight. The intervals are laid out in a fixed order
that does not depend on the weights or on the order of the policy's list (ascending version, numeric when the
names are numbers), so the boundary between two versions only moves when their weights change. With a champion
and one candidate, raising the candidate's weight moves the one boundary towards the other end: a sticky user
(fixed `u`) only ever moves champion -> candidate as the rollout advances, never back and forth. With three or
more versions the versions between the outermost ones can shift as a whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from deployments.errors import PinningNotAllowedError
from deployments.traffic_policy import ModelPolicy, VersionRoute
from rayship.errors import VersionNotFoundError

_HASH_BYTES = 8


def version_order_key(version: str) -> tuple[int, int, str]:
    """Numbers sort numerically and before other names, so '2' < '10' < 'beta'."""
    if version.isdigit():
        return (0, int(version), "")
    return (1, 0, version)


def choose_version(routes: Sequence[VersionRoute], u: float) -> str:
    """The version whose interval contains `u`; zero-weight versions never win."""
    if not 0.0 <= u < 1.0:
        raise ValueError(f"the draw must be in [0, 1), got {u}")
    ordered = sorted((route for route in routes if route.weight > 0), key=lambda r: version_order_key(r.version))
    if not ordered:
        raise ValueError("no version has a positive weight")
    total = sum(route.weight for route in ordered)
    point = u * total
    upper = 0
    for route in ordered:
        upper += route.weight
        if point < upper:
            return route.version
    return ordered[-1].version  # only reached through float rounding at the very top


def sticky_draw(key: str) -> float:
    """A draw in [0, 1) from sha256 of the key: the same key gives the same draw in every process."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    # 53 bits: exactly representable as a float, so the draw can never round up to 1.0.
    return (int.from_bytes(digest[:_HASH_BYTES], "big") >> 11) / float(1 << 53)


@dataclass(frozen=True)
class RoutePlan:
    """Where one request goes: the primary version, the failover target (if any) and the shadow (if any)."""

    primary: VersionRoute
    fallback: VersionRoute | None
    shadow: VersionRoute | None


def plan_route(policy: ModelPolicy, model: str, u: float, shadow_u: float, pinned: str | None = None) -> RoutePlan:
    """Pure: the version for draw `u` (or the pinned one), champion failover, and shadowing for draw `shadow_u`.

    Pinned requests get no failover: the caller asked for that version. A version is never its own fallback.
    """
    if pinned is not None:
        if not policy.allow_pinning:
            raise PinningNotAllowedError(model)
        primary = policy.route(pinned)
        if primary is None:
            raise VersionNotFoundError(model, pinned)
        return RoutePlan(primary, None, None)
    primary = policy.route(choose_version(policy.versions, u))
    assert primary is not None  # choose_version only returns listed versions
    champion = policy.route(policy.champion_version)
    fallback = champion if policy.failover and champion is not None and champion != primary else None
    shadow = None
    if policy.shadow is not None and shadow_u * 100 < policy.shadow.percent:
        candidate = policy.route(policy.shadow.version)
        shadow = candidate if candidate != primary else None
    return RoutePlan(primary, fallback, shadow)
