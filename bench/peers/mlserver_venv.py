"""MLServer's own virtualenv: its pins (FastAPI < 0.116, protobuf < 7, ...) clash with rayship's, so it lives apart.

Made once under bench/.peers/mlserver-venv and reused while its stamp matches the pins; scikit-learn, xgboost and
their numeric stack are pinned to the versions of the interpreter running the bench, so both venvs load the very
same fitted models.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from bench.peers.server import PeerError

MLSERVER_VERSION = "1.7.1"
# MLServer 1.7.1 does not start with uvloop 0.22 or later.
UVLOOP_VERSION = "0.21.0"
# Pinned to this interpreter's: the model files are written here and loaded there. httptools too: without it
# MLServer's uvicorn parses HTTP in pure Python (h11), and the peer would be measured slower than it can be.
SHARED_PACKAGES = ("scikit-learn", "xgboost", "numpy", "scipy", "joblib", "httptools")
STAMP = "rayship-pins.txt"


def pins() -> list[str]:
    fixed = [f"{name}=={MLSERVER_VERSION}" for name in ("mlserver", "mlserver-sklearn", "mlserver-xgboost")]
    shared = [f"{name}=={version(name)}" for name in SHARED_PACKAGES]
    return [*fixed, f"uvloop=={UVLOOP_VERSION}", *shared]


def stamp_text(requirements: list[str]) -> str:
    python = f"python=={sys.version_info.major}.{sys.version_info.minor}"
    return "\n".join([python, *sorted(requirements)]) + "\n"


def ensure_mlserver_venv(venv: Path) -> Path:
    """The `mlserver` executable of a venv holding exactly `pins()`; builds (or rebuilds) it when the stamp differs."""
    requirements = pins()
    stamp = venv / STAMP
    executable = venv / "bin" / "mlserver"
    if executable.exists() and stamp.exists() and stamp.read_text() == stamp_text(requirements):
        return executable
    print(f"building MLServer's venv at {venv} (once; about a minute) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements], "pip install")
    stamp.write_text(stamp_text(requirements))  # last: a failed install leaves no stamp, so the next run retries
    return executable


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise PeerError(f"building MLServer's venv: {what} failed (exit {done.returncode}):\n{tail}")
