"""Durable rollout state: `<root>/<model>/state.json` (replaced atomically) and `events.jsonl` (append-only).

The protocol that makes a killed driver resume without repeating or skipping a step ("intent, then applied"):
1. `begin()` writes the state file with a *pending intent* (step id, action, effect, state after) - before the
   router is touched;
2. the driver applies the effect (idempotently: absolute weights, "app present", never "+10 %");
3. `commit()` appends one event line for that step id (fsync), then rewrites the state file with the new state
   and no intent.

After a crash, the driver's one recovery path (`rollout.steps.StepExecutor.recover`) looks at the pending intent:
if its step id is already in the event log (`is_logged`), the crash came after step 3's append, so only the state
file is finished; otherwise the effect is applied again and committed. Each step id therefore appears in the event
log exactly once, whatever instant the driver was killed at.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rayship.atomic_file import write_atomically
from rollout.core.state_machine import RolloutState
from rollout.effects import Effect
from rollout.errors import CorruptStoreError, StoreConflictError
from rollout.persistence.jsonl import append_line, complete_lines

STATE_FILE = "state.json"
EVENTS_FILE = "events.jsonl"
ABORT_FILE = "abort.json"


class Intent(BaseModel):
    """An action decided and persisted, not yet known to be applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: int = Field(ge=1, description="Monotonically increasing id of this step within the model's log.")
    action: str = Field(description="What to apply: a policy action or a driver step (e.g. deploy_candidate).")
    effect: Effect = Field(description="What the router applies for the action, idempotently.")
    state_after: RolloutState = Field(description="The rollout state once the action is applied.")
    reason: str = Field(description="Why, for humans and reports.")
    decided_at_s: float = Field(description="When it was decided (driver clock, seconds).")


class AppliedEvent(BaseModel):
    """One line of the event log: an action that reached the router."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: int = Field(ge=1, description="The intent's step id; each appears once.")
    rollout_id: str = Field(description="The rollout this step belongs to.")
    action: str = Field(description="The action applied.")
    effect: Effect = Field(description="What was applied.")
    phase: str = Field(description="Rollout phase after the action.")
    candidate_weight: int = Field(description="Candidate weight (%) after the action.")
    reason: str = Field(description="Why.")
    decided_at_s: float = Field(description="When it was decided (driver clock).")
    applied_at_s: float = Field(description="When it was recorded as applied (driver clock).")
    replayed: bool = Field(default=False, description="Applied by crash recovery rather than the first attempt.")
    error: str | None = Field(
        default=None,
        description="Why the action could not be applied (the state stayed as before); null on success.",
    )


class StoredRollout(BaseModel):
    """The state file's content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: RolloutState = Field(description="Rollout state after the last applied step.")
    next_step_id: int = Field(default=1, ge=1, description="Step id the next intent gets.")
    pending: Intent | None = Field(default=None, description="An intent whose application is not yet recorded.")


class RolloutStore:
    """The durable state of one model's rollout under `root/<model>/`."""

    def __init__(self, root: Path, model: str) -> None:
        self.model = model
        self.directory = Path(root) / model
        self.state_path = self.directory / STATE_FILE
        self.events_path = self.directory / EVENTS_FILE
        self.abort_path = self.directory / ABORT_FILE

    def load(self) -> StoredRollout | None:
        """The stored rollout, or None when this model never had one."""
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return StoredRollout.model_validate_json(text)
        except ValidationError as exc:
            raise CorruptStoreError(str(self.state_path), str(exc.errors(include_url=False)[0]["msg"])) from exc

    def create(self, state: RolloutState) -> StoredRollout:
        """Start a rollout's record; refused while a step of the last one is pending."""
        stored = self.load()
        if stored is not None and stored.pending is not None:
            raise StoreConflictError(
                self.model, f"step {stored.pending.step_id} of the last rollout is not applied yet"
            )
        next_step_id = stored.next_step_id if stored is not None else 1
        return self._write(StoredRollout(state=state, next_step_id=next_step_id))

    def save_state(self, state: RolloutState) -> StoredRollout:
        """Persist a state change that needs no router action (a hold, a phase change)."""
        stored = self._require()
        if stored.pending is not None:
            raise StoreConflictError(self.model, f"step {stored.pending.step_id} is pending; recover first")
        return self._write(stored.model_copy(update={"state": state}))

    def begin(self, action: str, effect: Effect, state_after: RolloutState, reason: str, now_s: float) -> Intent:
        """Persist the intent to apply `action`; call before touching the router."""
        stored = self._require()
        if stored.pending is not None:
            raise StoreConflictError(self.model, f"step {stored.pending.step_id} is pending; recover first")
        intent = Intent(
            step_id=stored.next_step_id,
            action=action,
            effect=effect,
            state_after=state_after,
            reason=reason,
            decided_at_s=now_s,
        )
        self._write(stored.model_copy(update={"pending": intent}))
        return intent

    def commit(self, intent: Intent, now_s: float, replayed: bool = False, error: str | None = None) -> StoredRollout:
        """Record the outcome of `intent`: one event line (unless already there), then the state - the intent's
        `state_after` when applied, the previous state when it failed with `error`."""
        stored = self._require()
        if stored.pending is None or stored.pending.step_id != intent.step_id:
            raise StoreConflictError(self.model, f"step {intent.step_id} is not the pending step")
        if not self.is_logged(intent.step_id):
            self._append(_applied_event(intent, now_s, replayed, error))
        state = stored.state if error is not None else intent.state_after
        return self._write(StoredRollout(state=state, next_step_id=intent.step_id + 1))

    def is_logged(self, step_id: int) -> bool:
        """Whether the event log already has a line for this step."""
        return step_id in {event.step_id for event in self.events()}

    def events(self) -> list[AppliedEvent]:
        """The event log, oldest first; a torn last line (a crash mid-append) is not an event."""
        try:
            return [AppliedEvent.model_validate_json(line) for line in complete_lines(self.events_path)]
        except ValidationError as exc:
            raise CorruptStoreError(str(self.events_path), str(exc.errors(include_url=False)[0]["msg"])) from exc

    def request_abort(self, reason: str) -> None:
        """Ask the driver of this model to roll back at its next iteration (read with `abort_request`)."""
        write_atomically(self.abort_path, json.dumps({"reason": reason}) + "\n")

    def abort_request(self) -> str | None:
        """The reason of a pending abort request, or None."""
        try:
            return str(json.loads(self.abort_path.read_text(encoding="utf-8"))["reason"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError):
            return "abort requested"

    def clear_abort(self) -> None:
        self.abort_path.unlink(missing_ok=True)

    def _require(self) -> StoredRollout:
        stored = self.load()
        if stored is None:
            raise StoreConflictError(self.model, "no rollout has been started")
        return stored

    def _write(self, stored: StoredRollout) -> StoredRollout:
        write_atomically(self.state_path, stored.model_dump_json(indent=2) + "\n")
        return stored

    def _append(self, event: AppliedEvent) -> None:
        append_line(self.events_path, event.model_dump(mode="json"))


def _applied_event(intent: Intent, now_s: float, replayed: bool, error: str | None) -> AppliedEvent:
    return AppliedEvent(
        step_id=intent.step_id,
        rollout_id=intent.state_after.rollout_id,
        action=intent.action,
        effect=intent.effect,
        phase=intent.state_after.phase.value,
        candidate_weight=intent.state_after.candidate_weight,
        reason=intent.reason,
        decided_at_s=intent.decided_at_s,
        applied_at_s=now_s,
        replayed=replayed,
        error=error,
    )
