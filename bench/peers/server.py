"""What a benchmarked server is: something that starts, stops and names a URL per model taking OIP v2 requests.

rayship's gateway meets the same protocol; its implementation lives with the lead's code and is handed to
`bench_peers.main(rayship=...)` as a factory taking a `PeerContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bench.reference_models import ReferenceModel

# The machine has two cores: servers on one, wrk on the other, so the load generator never steals the server's CPU.
SERVER_CPU = 1
LOAD_CPU = 0


class PeerError(RuntimeError):
    """A server that would not start, answer or stop: the message names which and why."""


@runtime_checkable
class Server(Protocol):
    name: str  # as given to --servers, and the row label in the table

    def start(self) -> None:
        """Bring the server up and return once every model answers (blocking; raise PeerError otherwise)."""

    def stop(self) -> None:
        """Take it down; called even after a failed start, so it must tolerate a server that never came up."""

    def infer_url(self, model_name: str) -> str:
        """The URL taking `POST` OIP v2 inference requests for one of `PeerContext.models`."""


@dataclass(frozen=True)
class PeerContext:
    models: dict[str, ReferenceModel]  # by name: what every server serves
    work_dir: Path  # bench/.peers: venvs, model repositories, logs (git-ignored)
    server_cpu: int = SERVER_CPU
    load_cpu: int = LOAD_CPU

    @property
    def models_dir(self) -> Path:
        return self.work_dir / "models"  # the fitted reference models, cached by `bench.reference_models`

    def log_path(self, server_name: str) -> Path:
        path = self.work_dir / "logs" / f"{server_name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


ServerFactory = Callable[[PeerContext], Server]
