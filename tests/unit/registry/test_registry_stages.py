"""The stages and the one admission rule (`registry.stages`): pure, a table of tags to decisions and exact messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rayship.errors import ConflictError, InvalidInputError
from registry import tags
from registry.errors import ForceReasonMissingError, GateNotPassedError, UnknownStageError, VersionArchivedError
from registry.stages import (
    Stage,
    VersionFacts,
    admit_for_rollout,
    admit_for_serving,
    force_tags,
    parse_stage,
    promotion_purpose,
)

FAILED = {
    tags.GATE: "failed",
    tags.GATE_REASONS: "accuracy 0.9000 does not beat champion iris/2 (0.9500) by margin 0.0000",
}
ARCHIVED = {tags.ARCHIVED: "true"}
REFUSED_GATE = (
    "Model iris/3 (no stage) did not pass the champion gate (rayship.gate=failed: accuracy 0.9000 does not beat "
    "champion iris/2 (0.9500) by margin 0.0000); it cannot be rolled out unless forced with --force --reason TEXT"
)
REFUSED_ARCHIVED = (
    "Model iris/3 is archived, so it cannot be rolled out; unarchive it first: python -m registry unarchive iris/3"
)


def facts(version_tags: dict[str, str], aliases: tuple[str, ...] = ()) -> VersionFacts:
    return VersionFacts.from_tags("iris", "3", version_tags, aliases)


@pytest.mark.parametrize(
    ("version_tags", "aliases", "force", "reason", "forced", "recorded_reason"),
    [
        ({}, (), False, None, False, None),  # never gated
        ({tags.GATE: "passed"}, (), False, None, False, None),
        ({tags.GATE: "off"}, ("challenger",), False, None, False, None),
        ({tags.GATE: "passed"}, (), True, "no need", False, None),  # nothing to force: nothing recorded
        ({tags.GATE: "passed"}, (), False, "a reason alone is harmless", False, None),
        ({tags.ARCHIVED: "false"}, (), False, None, False, None),  # only 'true' archives
        (FAILED, (), True, "  hotfix for INC-42  ", True, "hotfix for INC-42"),
        ({tags.GATE: "failed"}, ("champion",), True, "keep serving", True, "keep serving"),
    ],
)
def test_admitted_for_rollout(version_tags, aliases, force, reason, forced, recorded_reason) -> None:
    admission = admit_for_rollout(facts(version_tags, aliases), force=force, reason=reason)
    assert (admission.name, admission.version, admission.gate) == ("iris", "3", version_tags.get(tags.GATE))
    assert (admission.forced, admission.reason) == (forced, recorded_reason)


@pytest.mark.parametrize(
    ("version_tags", "aliases", "force", "reason", "error", "message"),
    [
        (FAILED, (), False, None, GateNotPassedError, REFUSED_GATE),
        (FAILED, (), False, "a reason without --force", GateNotPassedError, REFUSED_GATE),
        (
            FAILED,
            ("challenger",),
            False,
            None,
            GateNotPassedError,
            REFUSED_GATE.replace("(no stage)", "(stage staging)"),
        ),
        (
            {tags.GATE: "failed"},
            ("champion", "challenger"),
            False,
            None,
            GateNotPassedError,
            "Model iris/3 (stage production) did not pass the champion gate (rayship.gate=failed: no reasons "
            "recorded); it cannot be rolled out unless forced with --force --reason TEXT",
        ),
        (
            {tags.GATE: "pending"},  # a value rayship never writes is not a pass
            (),
            False,
            None,
            GateNotPassedError,
            "Model iris/3 (no stage) did not pass the champion gate (rayship.gate=pending: no reasons recorded); "
            "it cannot be rolled out unless forced with --force --reason TEXT",
        ),
        (ARCHIVED, (), False, None, VersionArchivedError, REFUSED_ARCHIVED),
        ({**ARCHIVED, **FAILED}, (), True, "force never unarchives", VersionArchivedError, REFUSED_ARCHIVED),
        (
            FAILED,
            (),
            True,
            None,
            ForceReasonMissingError,
            "--force needs --reason TEXT: the reason is recorded on the version",
        ),
        (
            {tags.GATE: "passed"},
            (),
            True,
            "   ",
            ForceReasonMissingError,
            "--force needs --reason TEXT: the reason is recorded on the version",
        ),
    ],
)
def test_refused_for_rollout(version_tags, aliases, force, reason, error, message) -> None:
    with pytest.raises(error) as info:
        admit_for_rollout(facts(version_tags, aliases), force=force, reason=reason)
    assert str(info.value) == message


def test_refusals_carry_their_status() -> None:
    assert issubclass(VersionArchivedError, ConflictError) and issubclass(GateNotPassedError, ConflictError)
    assert VersionArchivedError("iris", "3", "be served").status_code == 409
    assert issubclass(ForceReasonMissingError, InvalidInputError) and ForceReasonMissingError().status_code == 400


def test_a_promotion_names_the_stage_it_was_refused() -> None:
    purpose = promotion_purpose(Stage.PRODUCTION)
    with pytest.raises(GateNotPassedError) as gate:
        admit_for_rollout(facts(FAILED), purpose=purpose)
    assert str(gate.value) == REFUSED_GATE.replace("be rolled out", "be promoted to production (alias champion)")
    with pytest.raises(VersionArchivedError) as archived:
        admit_for_rollout(facts(ARCHIVED), purpose=promotion_purpose(Stage.STAGING))
    assert str(archived.value) == (
        "Model iris/3 is archived, so it cannot be promoted to staging (alias challenger); "
        "unarchive it first: python -m registry unarchive iris/3"
    )


@pytest.mark.parametrize(
    ("version_tags", "admitted"),
    [({}, True), (FAILED, True), ({tags.ARCHIVED: "false"}, True), (ARCHIVED, False), ({**ARCHIVED, **FAILED}, False)],
)
def test_serving_refuses_only_archived_versions(version_tags, admitted) -> None:
    if admitted:
        assert admit_for_serving(facts(version_tags)).forced is False
        return
    with pytest.raises(VersionArchivedError) as info:
        admit_for_serving(facts(version_tags))
    assert str(info.value) == (
        "Model iris/3 is archived, so it cannot be served; unarchive it first: python -m registry unarchive iris/3"
    )


@pytest.mark.parametrize(
    ("text", "stage", "alias"),
    [
        ("production", Stage.PRODUCTION, "champion"),
        ("champion", Stage.PRODUCTION, "champion"),
        ("staging", Stage.STAGING, "challenger"),
        ("challenger", Stage.STAGING, "challenger"),
    ],
)
def test_stages_are_aliases(text, stage, alias) -> None:
    assert (parse_stage(text), parse_stage(text).alias) == (stage, alias)


def test_an_unknown_stage_lists_the_stages() -> None:
    with pytest.raises(UnknownStageError) as info:
        parse_stage("Production")
    assert (
        str(info.value) == "Unknown stage 'Production': use production (alias champion) or staging (alias challenger)"
    )


@pytest.mark.parametrize(
    ("version_tags", "aliases", "stage"),
    [
        ({}, (), None),
        ({}, ("challenger",), "staging"),
        ({}, ("challenger", "champion"), "production"),
        ({}, ("blue",), None),
        (ARCHIVED, (), "archived"),
    ],
)
def test_the_stage_of_a_version(version_tags, aliases, stage) -> None:
    assert facts(version_tags, aliases).stage == stage


def test_a_forced_admission_is_recorded_and_an_ordinary_one_is_not() -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    forced = admit_for_rollout(facts(FAILED), force=True, reason="INC-42")
    assert force_tags(forced, actor="ana@host", action="canary rollout of models:/iris/3", at=at) == {
        "rayship.forced_by": "ana@host",
        "rayship.forced_for": "canary rollout of models:/iris/3",
        "rayship.forced_at": "2025-01-02T03:04:05+00:00",
        "rayship.force_reason": "INC-42",
    }
    ordinary = admit_for_rollout(facts({tags.GATE: "passed"}), force=True, reason="INC-42")
    assert force_tags(ordinary, actor="ana@host", action="promote to production", at=at) == {}
