"""Errors of the cluster lifecycle; the CLI prints their message and exits non-zero."""

from __future__ import annotations


class ClusterError(Exception):
    """Something stopped `cluster up` or `down`; the message says what and how to fix it."""


class PortInUseError(ClusterError):
    def __init__(self, name: str, host: str, port: int, holder: str) -> None:
        super().__init__(
            f"Port {port} ({name}) on {host} is already in use by {holder}; stop it or choose another port"
        )
        self.port = port


class ServiceExitedError(ClusterError):
    def __init__(self, service: str, code: int | None, log_tail: str) -> None:
        super().__init__(f"{service} exited at start (exit code {code}); last lines of its log:\n{log_tail}")


class ServiceTimeoutError(ClusterError):
    def __init__(self, service: str, timeout_s: float, what: str, log_tail: str) -> None:
        super().__init__(f"{service} did not {what} within {timeout_s:.0f} s; last lines of its log:\n{log_tail}")
