"""A version's stage, and whether it may be served, rolled out or given a stage: pure decisions over its tags and
aliases, shared by the version app (serving), the rollout CLI (rollouts) and `python -m registry promote`.

Stages are aliases, as MLflow's registry has recommended since it deprecated its fixed stages: **production** is
the alias `champion` and **staging** the alias `challenger`, the two aliases the champion gate, the retraining loop
and rollout verdicts already read and move. **Archived** is the tag `rayship.archived`: an archived version holds
no alias (`archive` refuses while one does) and is never served. A version with none of these has no stage.

The rules:
- serving: an archived version is refused; nothing else is (a forced rollout deploys a gate-failed candidate).
- rollout or promotion: an archived version is refused, always; one the champion gate did not pass (tag
  `rayship.gate` other than `passed` or `off`, e.g. `failed`) is refused unless forced, and a force needs a reason,
  which the caller records on the version (`force_tags`). Never gated (no tag) counts as admitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from registry import tags
from registry.errors import ForceReasonMissingError, GateNotPassedError, UnknownStageError, VersionArchivedError


class Stage(StrEnum):
    """A stage a version can be promoted to; each is one alias."""

    PRODUCTION = "production"
    STAGING = "staging"

    @property
    def alias(self) -> str:
        """The alias that is this stage, e.g. `champion` for production."""
        return STAGE_ALIASES[self]

    @property
    def label(self) -> str:
        """The stage with its alias, as messages show it: 'production (alias champion)'."""
        return f"{self.value} (alias {self.alias})"


PRODUCTION_ALIAS = "champion"
STAGING_ALIAS = "challenger"
STAGE_ALIASES: dict[Stage, str] = {Stage.PRODUCTION: PRODUCTION_ALIAS, Stage.STAGING: STAGING_ALIAS}
ARCHIVED = "archived"
# Gate results that admit a version: the gate passed it, or was off when it was registered.
GATE_ADMITS = frozenset({"passed", "off"})
SERVING = "be served"
ROLLOUT = "be rolled out"


def parse_stage(text: str) -> Stage:
    """A stage from its name or its alias: 'production' or 'champion', 'staging' or 'challenger'."""
    for stage, alias in STAGE_ALIASES.items():
        if text in (stage.value, alias):
            return stage
    raise UnknownStageError(text, {stage.value: alias for stage, alias in STAGE_ALIASES.items()})


def promotion_purpose(stage: Stage) -> str:
    """What a refused promotion could not do, for its message: 'be promoted to production (alias champion)'."""
    return f"be promoted to {stage.label}"


def stage_of(aliases: Iterable[str], archived: bool) -> str | None:
    """'archived', 'production', 'staging' (in that order of precedence), or None: no stage."""
    if archived:
        return ARCHIVED
    held = set(aliases)
    return next((stage.value for stage, alias in STAGE_ALIASES.items() if alias in held), None)


def is_archived(version_tags: Mapping[str, str]) -> bool:
    """True when the version carries `rayship.archived=true`."""
    return version_tags.get(tags.ARCHIVED) == "true"


class VersionFacts(BaseModel):
    """What admission looks at: a version's aliases, archived tag and gate result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    version: str = Field(description="Version number as a string.")
    aliases: list[str] = Field(description="Aliases currently pointing at this version.")
    archived: bool = Field(description="True when tagged `rayship.archived=true`.")
    gate: str | None = Field(description="The champion gate's result (`rayship.gate`); None if never gated.")
    gate_reasons: str | None = Field(description="Why the gate decided so (`rayship.gate_reasons`).")

    @classmethod
    def from_tags(
        cls, name: str, version: str, version_tags: Mapping[str, str], aliases: Iterable[str] = ()
    ) -> VersionFacts:
        return cls(
            name=name,
            version=str(version),
            aliases=sorted(aliases),
            archived=is_archived(version_tags),
            gate=version_tags.get(tags.GATE),
            gate_reasons=version_tags.get(tags.GATE_REASONS),
        )

    @property
    def stage(self) -> str | None:
        """'archived', 'production', 'staging', or None: no stage (`stage_of`)."""
        return stage_of(self.aliases, self.archived)


class Admission(BaseModel):
    """A version admitted to be served, rolled out or promoted; `forced` when only --force admitted it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered model name.")
    version: str = Field(description="Version number as a string.")
    gate: str | None = Field(description="The gate result it was admitted with (None: never gated).")
    forced: bool = Field(description="True when the gate refused it and --force overrode the refusal.")
    reason: str | None = Field(description="The --force reason, when forced; recorded on the version.")


def check_force(force: bool, reason: str | None) -> str | None:
    """The reason of a `--force`, stripped (None when empty); forcing without one is refused."""
    text = (reason or "").strip()
    if force and not text:
        raise ForceReasonMissingError()
    return text or None


def admit_for_serving(facts: VersionFacts) -> Admission:
    """May a version app serve this version? Only an archived version is refused."""
    if facts.archived:
        raise VersionArchivedError(facts.name, facts.version, SERVING)
    return Admission(name=facts.name, version=facts.version, gate=facts.gate, forced=False, reason=None)


def admit_for_rollout(
    facts: VersionFacts, *, force: bool = False, reason: str | None = None, purpose: str = ROLLOUT
) -> Admission:
    """May this version be rolled out (or, with `purpose=promotion_purpose(stage)`, be given a stage)?

    Refused: `--force` without a reason; an archived version, forced or not; a version the gate did not pass,
    unless forced. A version whose gate passed, was off or never ran is admitted and `force` changes nothing."""
    reason = check_force(force, reason)
    if facts.archived:
        raise VersionArchivedError(facts.name, facts.version, purpose)
    admitted = facts.gate is None or facts.gate in GATE_ADMITS
    if not admitted and not force:
        raise GateNotPassedError(facts.name, facts.version, facts.stage, facts.gate, facts.gate_reasons, purpose)
    return Admission(
        name=facts.name,
        version=facts.version,
        gate=facts.gate,
        forced=not admitted,
        reason=None if admitted else reason,
    )


def force_tags(admission: Admission, *, actor: str, action: str, at: datetime) -> dict[str, str]:
    """The version tags recording a forced admission (none when nothing was forced)."""
    if not admission.forced:
        return {}
    return {
        tags.FORCED_BY: actor,
        tags.FORCED_FOR: action,
        tags.FORCED_AT: at.isoformat(timespec="seconds"),
        tags.FORCE_REASON: admission.reason or "",
    }
