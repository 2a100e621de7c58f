"""Registering a sweep's winner: gate it against the champion, register it with lineage, alias it if it passed."""

from __future__ import annotations

from collections.abc import Mapping

from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from monitoring.profile import PROFILE_FILE
from registry import tags
from registry.api import PinnedVersion, register
from registry.catalog import AliasMove, set_alias
from training.champion import score_champion
from training.datasets import Splits
from training.gate import GateDecision, decide
from training.spec import SweepSpec
from training.tracking import TrackingContext
from training.winner import Winner


class Registration(BaseModel):
    """What registering the winner did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pinned: PinnedVersion = Field(description="The new version.")
    gate: GateDecision | None = Field(description="The gate's verdict; None when the gate is off.")
    alias: AliasMove | None = Field(description="The alias set on the new version, if any.")


def gate_tags(decision: GateDecision | None) -> dict[str, str]:
    """Version tags recording the gate verdict, so a failed candidate is never silently alias-less."""
    if decision is None:
        return {tags.GATE: "off"}
    return {tags.GATE: "passed" if decision.passed else "failed", tags.GATE_REASONS: "; ".join(decision.reasons)}


# The version tags rayship writes itself (at registration, or later: archiving, forcing past the gate, rollouts). A
# caller's tag can never overwrite them (they are merged after it), so a caller naming one is refused instead of
# being silently dropped.
OWN_TAGS = (
    tags.MANIFEST,
    tags.DATASET_FINGERPRINT,
    tags.SWEEP_ID,
    tags.TRIAL_ID,
    tags.RUN_ID,
    tags.LOGGED_MODEL_ID,
    tags.GIT_COMMIT,
    tags.FLAVOR,
    tags.GATE,
    tags.GATE_REASONS,
    tags.ARCHIVED,
    tags.FORCED_BY,
    tags.FORCED_FOR,
    tags.FORCED_AT,
    tags.FORCE_REASON,
    tags.ROLLOUT_VERDICT,
    tags.ROLLOUT_ID,
    tags.ROLLOUT_ROLE,
)


def is_own_tag(key: str) -> bool:
    """True for a version tag rayship writes itself, holdout metrics included."""
    return key in OWN_TAGS or key.startswith(tags.METRIC_PREFIX)


def registration_tags(
    spec: SweepSpec, tracking: TrackingContext, decision: GateDecision | None, extra: Mapping[str, str]
) -> dict[str, str]:
    """The tags `register` gets beside its own: `extra` first, so flavor, commit and gate verdict win over it."""
    return {
        **extra,
        tags.FLAVOR: spec.trainer.framework,
        tags.GIT_COMMIT: tracking.git_commit,
        **gate_tags(decision),
    }


def register_winner(
    spec: SweepSpec,
    winner: Winner,
    splits: Splits,
    tracking: TrackingContext,
    alias: str | None,
    client: MlflowClient,
    extra_tags: Mapping[str, str] | None = None,
) -> Registration:
    """Gate (if enabled), register with digests and lineage (and `extra_tags`), then set `alias` only if the
    gate allowed it."""
    decision = None
    if spec.gate.enabled:
        champion = score_champion(spec.model_name, spec.gate.champion_alias, spec.metric, splits, client)
        decision = decide(
            spec.metric,
            spec.direction,
            winner.test_scores[spec.metric],
            champion,
            margin=spec.gate.margin,
            min_score=spec.gate.min_score,
        )
    pinned = register(
        spec.model_name,
        winner.model_id,
        metrics=winner.test_scores,
        dataset_fingerprint=tracking.dataset_sha256,
        sweep_id=tracking.sweep_run_id,
        trial_id=winner.trial_id,
        extra_tags=registration_tags(spec, tracking, decision, extra_tags or {}),
        extra_files={PROFILE_FILE: winner.profile.to_json().encode()},
        description=f"{spec.trainer.framework} {spec.trainer.estimator} from sweep {tracking.sweep_run_id}",
        client=client,
    )
    moved = None
    if alias is not None and (decision is None or decision.passed):
        moved = set_alias(spec.model_name, alias, pinned.version, client=client)
    return Registration(pinned=pinned, gate=decision, alias=moved)
