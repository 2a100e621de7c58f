"""Keep Serve's gRPC servers on the address the HTTP data plane was given (decision 13's loopback default).

Ray 2.60's `gRPCOptions` has no host: its proxies and, in HAProxy mode, every ingress replica's direct-ingress
server bind `[::]:<port>`, every interface, while the HAProxy frontend in front of them binds the HTTP host. Ray
binds through one function, `ray.serve._private.default_impl.add_grpc_address`, looked up at each bind;
`bind_grpc_to_host` wraps it so `[::]` becomes `RAYSHIP_GRPC_HOST` (set by `cluster up` from `--host`; unset
leaves Ray's behaviour). It runs in the processes that bind: the gateway's replicas import it with the gateway,
and Serve's proxy actors through Ray's documented `RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH` hook
(`proxy_callback`), which each proxy calls before it starts its servers.
`tests/integration/deployments/test_listeners_live.py` checks no gRPC port is left on every interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

HOST_ENV = "RAYSHIP_GRPC_HOST"
ALL_INTERFACES = "[::]:"


def bound_address(address: str, host: str) -> str:
    """`[::]:9000` on `host` (IPv6 hosts bracketed); any other address as it was."""
    if not address.startswith(ALL_INTERFACES):
        return address
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{address[len(ALL_INTERFACES) :]}"


def bind_grpc_to_host(environ: Mapping[str, str] = os.environ) -> None:
    host = environ.get(HOST_ENV)
    if not host:
        return
    from ray.serve._private import default_impl

    original: Callable[[Any, str], Any] = default_impl.add_grpc_address
    if getattr(original, "rayship_host", None) == host:
        return

    def add_grpc_address(server: Any, server_address: str) -> Any:
        return original(server, bound_address(server_address, host))

    add_grpc_address.rayship_host = host  # type: ignore[attr-defined]
    default_impl.add_grpc_address = add_grpc_address


def proxy_callback() -> list:
    """`RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=deployments.gateway.oip_grpc.loopback:proxy_callback`: no
    middlewares, only the bind address."""
    bind_grpc_to_host()
    return []
