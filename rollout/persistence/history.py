"""What the driver saw and decided, interval by interval: `<root>/<model>/history.jsonl` (append-only).

The event log (`rollout.persistence.store`) holds only applied actions; the history also keeps every analysed window, so
the live view and the report can show rates, p99 and checks over time - including from before a driver
restart.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rollout.core.analysis import CheckResult
from rollout.core.observation import Observation
from rollout.core.state_machine import RolloutState
from rollout.persistence.jsonl import append_line, complete_lines

HISTORY_FILE = "history.jsonl"


class Progress(BaseModel):
    """One decision of the driver, with the interval it analysed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_s: float = Field(description="Driver clock (Unix s).")
    action: str = Field(description="The action decided, or a driver step such as deploy_candidate.")
    state: RolloutState = Field(description="The state after it.")
    observation: Observation | None = Field(default=None, description="The interval analysed, if any.")
    checks: list[CheckResult] = Field(default_factory=list, description="Its checks.")


class ProgressLog:
    def __init__(self, root: Path, model: str) -> None:
        self.path = Path(root) / model / HISTORY_FILE

    def append(self, progress: Progress) -> None:
        append_line(self.path, progress.model_dump(mode="json"))

    def read(self, rollout_id: str | None = None) -> list[Progress]:
        """Every record (of one rollout when `rollout_id` is given), oldest first; unreadable lines are
        skipped, since the history only feeds views and reports."""
        records = []
        for line in complete_lines(self.path):
            try:
                progress = Progress.model_validate_json(line)
            except ValueError:
                continue
            if rollout_id is None or progress.state.rollout_id == rollout_id:
                records.append(progress)
        return records
