"""A server process pinned to one core, in its own process group, so stopping it also stops the workers it forks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from bench.peers.server import PeerError

STOP_GRACE_S = 20  # MLServer waits for its inference workers (5 s by default) before it exits


def pinned(command: list[str], cpu: int) -> list[str]:
    # taskset execs the command, so the PID we hold is the server's own and children inherit the affinity.
    return ["taskset", "-c", str(cpu), *command]


def single_threaded_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """One core per server: BLAS/OpenMP pools sized to it, the same for every server, whatever the shell set."""
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, **threads, **(extra or {})}


class PinnedProcess:
    def __init__(self, name: str, command: list[str], cpu: int, log_path: Path, cwd: Path, env: dict[str, str]):
        self.name, self.log_path = name, log_path
        self._spec = (pinned(command, cpu), cwd, env)
        self._process: subprocess.Popen | None = None

    def start(self, ports: Iterable[int] = ()) -> None:
        # Another process on our port would answer the readiness checks while ours fails to bind.
        if busy := [port for port in ports if not port_free(port)]:
            raise PeerError(f"{self.name}: port(s) {', '.join(map(str, busy))} already in use (left from a run?)")
        command, cwd, env = self._spec
        with self.log_path.open("wb") as log:
            # A new session is a new process group: killpg reaches the inference workers MLServer forks.
            self._process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, urls: Iterable[str], timeout_s: float = 180) -> None:
        """Until every URL answers GET with 200; fails early, with the log's tail, if the process dies."""
        pending, deadline = list(urls), time.monotonic() + timeout_s
        while pending:
            if self._process is None or self._process.poll() is not None:
                raise PeerError(f"{self.name} exited while starting; last log lines:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise PeerError(f"{self.name}: {pending[0]} not ready within {timeout_s:.0f} s\n{self.log_tail()}")
            if _ok(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.5)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # A worker that outlived its parent would keep its port and core: make sure the group is gone.
        _signal_group(process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As servers bind (SO_REUSEADDR): only a listener makes it busy, not the last run's TIME_WAIT connections.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
