"""What `up` started, kept in `<state_dir>/cluster.json` so that `down` stops exactly that, by PID."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "cluster.json"


class ServiceRecord(BaseModel):
    """One process started by `up` (the leader of a session of its own)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Service name: mlflow, ray-head, ray-worker-N.")
    pid: int = Field(description="PID of the session leader; stopping the session stops the service.")
    log_path: Path = Field(description="File receiving the service's stdout and stderr.")
    url: str | None = Field(None, description="Where the service answers, for `status`.")


class ClusterState(BaseModel):
    """Everything `up` started, in start order."""

    model_config = ConfigDict(extra="forbid")

    services: list[ServiceRecord] = Field(default_factory=list, description="Started services, in start order.")


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def load_state(state_dir: Path) -> ClusterState | None:
    path = state_path(state_dir)
    if not path.exists():
        return None
    return ClusterState.model_validate_json(path.read_text())


def save_state(state_dir: Path, state: ClusterState) -> None:
    """Write atomically: a crash leaves the previous file or the new one, never half of one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".cluster-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(state.model_dump(mode="json"), indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, state_path(state_dir))


def clear_state(state_dir: Path) -> None:
    state_path(state_dir).unlink(missing_ok=True)
