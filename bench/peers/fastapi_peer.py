"""The FastAPI peer (`bench/fastapi_peer_app.py`) in one uvicorn process pinned to the server core.

It runs on the bench's own interpreter (FastAPI, uvicorn, httptools and uvloop are rayship's dependencies too).
Port 28090, outside the Ray cluster's ranges; no access log, like the MLServer peers (debug off).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.peers.process import PinnedProcess, single_threaded_env
from bench.peers.server import PeerContext

PORT = 28090
REPO = Path(__file__).resolve().parents[2]


class FastAPIPeer:
    name = "fastapi"

    def __init__(self, context: PeerContext, port: int = PORT):
        self._context, self._port = context, port
        self._process: PinnedProcess | None = None

    def command(self) -> list[str]:
        uvicorn = [sys.executable, "-m", "uvicorn", "bench.fastapi_peer_app:app", "--app-dir", str(REPO)]
        return [*uvicorn, "--host", "127.0.0.1", "--port", str(self._port), "--no-access-log", "--log-level", "warning"]

    def start(self) -> None:
        env = single_threaded_env({"RAYSHIP_PEER_CACHE_DIR": str(self._context.models_dir)})
        self._process = PinnedProcess(
            self.name, self.command(), self._context.server_cpu, self._context.log_path(self.name), REPO, env
        )
        self._process.start(ports=[self._port])
        base = f"http://127.0.0.1:{self._port}/v2"
        self._process.wait_ready([f"{base}/health/ready", *(f"{base}/models/{m}/ready" for m in self._context.models)])

    def stop(self) -> None:
        if self._process:
            self._process.stop()

    def infer_url(self, model_name: str) -> str:
        return f"http://127.0.0.1:{self._port}/v2/models/{model_name}/infer"
