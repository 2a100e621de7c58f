"""Wait until a started service answers, failing fast when its process exits instead."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from cluster.errors import ServiceExitedError, ServiceTimeoutError
from cluster.processes import is_running

POLL_S = 0.5


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


def wait_until(
    check: Callable[[], bool], *, service: str, pid: int, log_path: Path, timeout_s: float, what: str
) -> None:
    """Poll `check` until it is true; raise with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not is_running(pid):
            raise ServiceExitedError(service, _exit_code(pid), log_tail(log_path))
        time.sleep(POLL_S)
    raise ServiceTimeoutError(service, timeout_s, what, log_tail(log_path))


def http_answers(
    url: str, headers: dict[str, str] | None = None, ok: Callable[[httpx.Response], bool] | None = None
) -> Callable[[], bool]:
    """A check that is true once GET `url` gets an answer accepted by `ok` (default: status 200)."""

    def check() -> bool:
        try:
            response = httpx.get(url, headers=headers, timeout=2.0)
        except httpx.HTTPError:
            return False
        return ok(response) if ok else response.status_code == 200

    return check


def _exit_code(pid: int) -> int | None:
    try:
        _, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if status else None
