"""MLServer serving both reference models from one model repository, with adaptive batching or with its defaults.

Settings we choose, and why (everything else is MLServer's default, e.g. one parallel inference worker, gzip):
- ports 28080-28082 (batching) and 28180-28182 (default): outside the Ray cluster's (8000-8600, 5000, 6379, 8080,
  8265, 10001-19999, 52400-52500), and two sets because both modes stay up for the whole run;
- host 127.0.0.1: wrk is local, and nothing else should reach it;
- debug off: MLServer's default (on) writes an access-log line per request, a cost neither the FastAPI peer
  (uvicorn --no-access-log) nor a production deployment pays;
- metrics kept on (MLServer's default, on its own port): rayship's gateway keeps its Prometheus metrics too, so
  turning them off would compare a lighter MLServer.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import astuple, dataclass
from pathlib import Path

from bench.peers.mlserver_venv import ensure_mlserver_venv
from bench.peers.process import PinnedProcess, single_threaded_env
from bench.peers.server import PeerContext
from bench.reference_models import mlserver_artifact, write_mlserver_artifacts

MAX_BATCH_SIZE = 32
MAX_BATCH_TIME_S = 0.005


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


BATCHING_PORTS = Ports(http=28080, grpc=28081, metrics=28082)
DEFAULT_PORTS = Ports(http=28180, grpc=28181, metrics=28182)


def server_settings(ports: Ports) -> dict:
    """settings.json at the repository's root: see the module docstring for each choice."""
    return {
        "host": "127.0.0.1",
        "http_port": ports.http,
        "grpc_port": ports.grpc,
        "metrics_port": ports.metrics,
        "debug": False,
    }


def model_settings(name: str, batching: bool) -> dict:
    """One model's model-settings.json; without batching, MLServer's defaults (no adaptive batching)."""
    implementation, filename = mlserver_artifact(name)
    settings = {"name": name, "implementation": implementation, "parameters": {"uri": f"./{filename}"}}
    if batching:
        settings |= {"max_batch_size": MAX_BATCH_SIZE, "max_batch_time": MAX_BATCH_TIME_S}
    return settings


def write_repository(context: PeerContext, repository: Path, ports: Ports, batching: bool) -> None:
    shutil.rmtree(repository, ignore_errors=True)  # written anew: no model left over from an earlier run
    write_mlserver_artifacts(context.models, repository)
    (repository / "settings.json").write_text(json.dumps(server_settings(ports), indent=2))
    for name in context.models:
        (repository / name / "model-settings.json").write_text(json.dumps(model_settings(name, batching), indent=2))


class MLServer:
    def __init__(self, context: PeerContext, batching: bool):
        self.name = "mlserver-batching" if batching else "mlserver-default"
        self._context, self._batching = context, batching
        self._ports = BATCHING_PORTS if batching else DEFAULT_PORTS
        self._process: PinnedProcess | None = None

    def start(self) -> None:
        executable = ensure_mlserver_venv(self._context.work_dir / "mlserver-venv")
        repository = self._context.work_dir / self.name
        write_repository(self._context, repository, self._ports, self._batching)
        self._process = PinnedProcess(
            self.name,
            [str(executable), "start", str(repository)],
            cpu=self._context.server_cpu,
            log_path=self._context.log_path(self.name),
            cwd=repository,  # MLServer keeps its metrics and environment folders under the working directory
            env=single_threaded_env(),
        )
        self._process.start(ports=astuple(self._ports))
        base = f"http://127.0.0.1:{self._ports.http}/v2"
        ready = [f"{base}/health/ready", *(f"{base}/models/{name}/ready" for name in self._context.models)]
        self._process.wait_ready(ready)

    def stop(self) -> None:
        if self._process:
            self._process.stop()

    def infer_url(self, model_name: str) -> str:
        return f"http://127.0.0.1:{self._ports.http}/v2/models/{model_name}/infer"


def mlserver_batching(context: PeerContext) -> MLServer:
    return MLServer(context, batching=True)


def mlserver_default(context: PeerContext) -> MLServer:
    return MLServer(context, batching=False)
