"""The load: wrk, pinned to the load core, posting one single-row OIP v2 request per call.

One lua script per model (the body is that model's sample row), written under bench/.peers/wrk/. wrk's output is
read by `bench_serving.parse_wrk`, the serving benchmark's parser, so both benchmarks count the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.bench_serving import parse_wrk
from bench.peers.process import pinned
from bench.peers.server import PeerError
from bench.reference_models import ReferenceModel

WRK_THREADS = 1  # one load core: a second wrk thread would only time-share it


def request_body(row: list[float]) -> str:
    """One row as an OIP v2 inference request, FP64 like the data set's floats."""
    tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return json.dumps({"inputs": [tensor]}, separators=(",", ":"))


def lua_script(body: str) -> str:
    # A lua long bracket needs no escaping; the level-2 form cannot be closed by anything JSON contains.
    return f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[{body}]==]\n'


def write_script(model: ReferenceModel, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model.name}.lua"
    path.write_text(lua_script(request_body(model.row)))
    return path


def missing_tools() -> list[str]:
    return [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]


def wrk_command(url: str, script: Path, connections: int, duration_s: int, cpu: int) -> list[str]:
    wrk = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(script), url]
    return pinned(wrk, cpu)


def run_wrk(url: str, script: Path, connections: int, duration_s: int, cpu: int) -> dict:
    done = subprocess.run(wrk_command(url, script, connections, duration_s, cpu), capture_output=True, text=True)
    if done.returncode != 0:
        raise PeerError(f"wrk against {url} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout}")
    return parse_wrk(done.stdout)
