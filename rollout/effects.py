"""What a rollout step does to the live Serve config: a typed, immutable effect, stored with the step's intent
(`rollout.persistence.store.Intent.effect`) and applied through the router's verbs (`rollout.steps`).

Every effect is absolute, so applying it twice gives the same config as applying it once ("app present",
"these weights", "version absent"), which is what makes crash replay safe:
- `deploy`: add the version app and list the version at weight 0;
- `route`: the split, mirroring and failover target (plus the sticky header of an A/B test), and the verdict the
  registry records once it is applied;
- `remove`: drop a version at weight 0 from the policy, and its app;
- `none`: a phase change only (pause).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deployments.traffic_policy import ShadowPolicy
from rollout.core.state_machine import Action, Decision, RolloutState

VerdictName = Literal["promoted", "rolled_back", "concluded", "superseded", "aborted", "reverted"]
VERDICTS: dict[Action, VerdictName] = {
    Action.PROMOTE: "promoted",
    Action.ROLLBACK: "rolled_back",
    Action.CONCLUDE: "concluded",
    Action.RESTART: "superseded",
}


class Verdict(BaseModel):
    """The outcome a step records in the registry once it is applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: VerdictName = Field(description="The tag both versions get; 'promoted' and 'reverted' move the alias.")
    champion: str = Field(description="The rollout's champion version.")
    candidate: str = Field(description="The rollout's candidate version.")


class DeployEffect(BaseModel):
    """Add a version's app and list the version at weight 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["deploy"] = Field(default="deploy", description="Discriminator.")
    version: str = Field(description="The version deployed.")
    app: dict[str, Any] = Field(
        description="Its application's entry in the Serve config (Ray's ServeApplicationSchema shape), copied from "
        "the champion's app when the step was decided."
    )


class Routes(BaseModel):
    """One model's split, mirroring and failover target, as absolute values (what a router's `set_routes` sets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, int] = Field(description="Version -> percent of the traffic; versions not named get 0.")
    shadow: ShadowPolicy | None = Field(
        default=None, description="The version mirrored to and the percent mirrored; null: no mirroring."
    )
    champion: str = Field(description="The failover target after the step (explicit, so a replay leaves it right).")
    sticky_header: str | None = Field(
        default=None, description="Request header that pins a caller to a version (A/B tests); null leaves it."
    )


class RouteEffect(Routes):
    """Set one model's routes, then record the verdict they carry."""

    kind: Literal["route"] = Field(default="route", description="Discriminator.")
    verdict: Verdict | None = Field(default=None, description="The outcome to record once applied; null: none.")


class RemoveEffect(BaseModel):
    """Drop a version at weight 0 from the policy, then its app."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["remove"] = Field(default="remove", description="Discriminator.")
    version: str = Field(description="The version removed.")
    app: str = Field(description="Its application's name, as the policy named it when the step was decided.")


class NoEffect(BaseModel):
    """A step that changes the rollout's phase only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none"] = Field(default="none", description="Discriminator.")


Effect = Annotated[DeployEffect | RouteEffect | RemoveEffect | NoEffect, Field(discriminator="kind")]


def verdict_of(action: Action) -> VerdictName | None:
    """The registry tag a terminal action leaves on the versions (None for actions that decide nothing)."""
    return VERDICTS.get(action)


def carried_verdict(effect: Effect) -> Verdict | None:
    """The verdict a step records once applied (only a route carries one)."""
    return effect.verdict if isinstance(effect, RouteEffect) else None


def route_effect(
    before: RolloutState,
    decision: Decision,
    sticky_header: str | None = None,
    verdict: VerdictName | None = None,
) -> RouteEffect | NoEffect:
    """The split a policy decision stands for (RESTART gives the old candidate's share back); with
    `sticky_header`, the gateway pins each caller to one version by that header; with `verdict`, the registry
    records it once the split is applied."""
    state = decision.state
    if decision.action is Action.PAUSE:
        return NoEffect()
    restarted = decision.action is Action.RESTART  # the old candidate's share goes back to the champion
    weights = {before.champion: 100, before.candidate: 0} if restarted else state.weights()
    shadow = ShadowPolicy(version=state.candidate, percent=state.mirror_percent) if state.mirror_percent else None
    return RouteEffect(
        weights=weights,
        shadow=shadow,
        # Always explicit, so a replay or a rollback after a promotion leaves the right failover target.
        champion=state.candidate if decision.action is Action.PROMOTE else before.champion,
        sticky_header=sticky_header,
        verdict=_verdict(verdict, before),
    )


def revert_effect(state: RolloutState) -> RouteEffect:
    """All traffic back to a promoted rollout's old champion, which is the champion again."""
    return RouteEffect(
        weights={state.champion: 100, state.candidate: 0},
        shadow=None,
        champion=state.champion,
        verdict=_verdict("reverted", state),
    )


def _verdict(verdict: VerdictName | None, state: RolloutState) -> Verdict | None:
    if verdict is None:
        return None
    return Verdict(verdict=verdict, champion=state.champion, candidate=state.candidate)
