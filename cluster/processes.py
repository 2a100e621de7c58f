"""Start services in sessions of their own and stop exactly those sessions, by PID.

`ray start --block` stays in the foreground while its daemons run; they and the workers the raylet forks all stay
in the session `up` created for it, so stopping the session stops the node and nothing else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

# A SIGKILLed process is gone once the kernel has torn it down; that takes a moment, not seconds.
KILL_WAIT_S = 5.0


def spawn(cmd: Sequence[str], env: dict[str, str], log_path: Path, cwd: Path | None = None) -> int:
    """Start `cmd` detached in a new session, output appended to `log_path`; returns its PID."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - commands are built by cluster.commands
            list(cmd),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def session_members(leader_pid: int) -> list[int]:
    """Every live process in the session led by `leader_pid` (the leader included)."""
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == leader_pid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_session(leader_pid: int, grace_s: float = 8.0) -> int:
    """SIGTERM every process of the session, SIGKILL what is left after `grace_s`; returns how many were found."""
    members = session_members(leader_pid)
    _signal_all(members, signal.SIGTERM)
    if not _wait_gone(members, grace_s):
        _signal_all([pid for pid in session_members(leader_pid) + members if is_running(pid)], signal.SIGKILL)
        _wait_gone(members, KILL_WAIT_S)
    _reap(members)
    return len(members)


def _wait_gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while any(is_running(pid) for pid in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap(pids: list[int]) -> None:
    # Our own children (when `up` and `down` run in one process, as in tests) must not linger as zombies.
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
