"""Is a TCP port free on the bind address, and if not, who holds it."""

from __future__ import annotations

import errno
import socket

import psutil


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "in use"
        # Ray's gRPC servers bind every interface: a port taken on 0.0.0.0 must count as taken on loopback too.
        try:
            sock.bind(("0.0.0.0" if host in ("127.0.0.1", "localhost") else host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def port_holder(port: int) -> str:
    """'pid 123 (python3)' for the process listening on the port, when this user may see it."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return "another process"
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "another process"
