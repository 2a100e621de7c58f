"""Promoting a version to a stage (`python -m registry promote`), and recording a forced admission: the I/O around
the pure rules of `registry.stages`."""

from __future__ import annotations

import getpass
import socket
from datetime import UTC, datetime

from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from registry.api import PinnedVersion
from registry.catalog import AliasMove, set_alias, set_version_tags, version_facts
from registry.connection import connect
from registry.stages import Admission, Stage, admit_for_rollout, force_tags, promotion_purpose


class Promotion(BaseModel):
    """What `promote` did: the stage alias it moved, and whether it was forced past the gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage = Field(description="The stage the version was promoted to.")
    move: AliasMove = Field(description="The stage alias, where it pointed before and now.")
    admission: Admission = Field(description="Why the version was admitted (forced or not, and the reason).")


def local_actor() -> str:
    """Who is forcing, as recorded in `rayship.forced_by`: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def record_force(
    pinned: PinnedVersion,
    admission: Admission,
    *,
    action: str,
    actor: str | None = None,
    at: datetime | None = None,
    client: MlflowClient | None = None,
) -> dict[str, str]:
    """Tag `pinned` with who forced it past the gate, for what, when and why; nothing when it was not forced.
    Returns the tags written."""
    written = force_tags(admission, actor=actor or local_actor(), action=action, at=at or datetime.now(UTC))
    if written:
        set_version_tags(pinned, written, client)
    return written


def promote(
    pinned: PinnedVersion,
    stage: Stage,
    *,
    force: bool = False,
    reason: str | None = None,
    actor: str | None = None,
    client: MlflowClient | None = None,
) -> Promotion:
    """Point `stage`'s alias at `pinned` if `registry.stages.admit_for_rollout` admits it (archived: never; gate
    not passed: only with `force` and a `reason`, which is recorded on the version before the alias moves)."""
    client = client or connect()
    facts = version_facts(pinned, client)
    admission = admit_for_rollout(facts, force=force, reason=reason, purpose=promotion_purpose(stage))
    record_force(pinned, admission, action=f"promote to {stage.value}", actor=actor, client=client)
    move = set_alias(pinned.name, stage.alias, pinned.version, client=client)
    return Promotion(stage=stage, move=move, admission=admission)
