"""Errors of the cluster lifecycle, in rayship's one hierarchy (`rayship.errors`); the CLI prints their message and
exits non-zero."""

from __future__ import annotations

from rayship.errors import ConflictError, RayshipError, UnavailableError


class ClusterError(RayshipError):
    """Something stopped `cluster up` or `down`; the message says what and how to fix it."""


class PortInUseError(ClusterError, ConflictError):
    """A port the cluster needs is held by another process."""

    def __init__(self, name: str, host: str, port: int, holder: str) -> None:
        super().__init__(
            f"Port {port} ({name}) on {host} is already in use by {holder}; stop it or choose another port"
        )
        self.port = port


class ServiceExitedError(ClusterError, UnavailableError):
    """A service the cluster starts exited while starting."""

    def __init__(self, service: str, code: int | None, log_tail: str) -> None:
        super().__init__(f"{service} exited at start (exit code {code}); last lines of its log:\n{log_tail}")


class ServiceTimeoutError(ClusterError, UnavailableError):
    """A service the cluster starts did not become ready in time."""

    def __init__(self, service: str, timeout_s: float, what: str, log_tail: str) -> None:
        super().__init__(f"{service} did not {what} within {timeout_s:.0f} s; last lines of its log:\n{log_tail}")


class ClusterPartlyDownError(ClusterError, ConflictError):
    """Some of the services a previous `up` started are gone and others still run."""

    def __init__(self, dead: list[str]) -> None:
        super().__init__(f"rayship cluster is partly down ({', '.join(dead)} not running); run `down` first")
        self.dead = dead


class ServeStartError(ClusterError, UnavailableError):
    """`serve start` (the Serve proxy) exited with an error."""

    def __init__(self, code: int, log_tail: str) -> None:
        super().__init__(f"`serve start` failed (exit code {code}):\n{log_tail}")


class HAProxyMissingError(ClusterError, UnavailableError):
    """`rayship-haproxy` found no HAProxy to run: neither Ray's bundled one nor one on PATH."""

    def __init__(self) -> None:
        super().__init__("no HAProxy binary: install ray[serve] (it bundles one) or put haproxy on PATH")
