"""Pure credential checks: data-plane API keys and the admin (Ray cluster) token for the stats endpoint.

Data plane: when the policy names `api_keys_env`, that environment variable of the gateway replicas holds
comma-separated keys and every prediction or metadata request must send one as `Authorization: Bearer <key>` or
`x-api-key: <key>` (401 when missing, 403 when wrong). An empty or unset variable rejects every request (fails
closed). Health endpoints stay open for probes.

Admin: `GET /-/rayship/...` needs `Authorization: Bearer <Ray cluster token>`, the token Ray's own dashboard
checks, read from `RAY_AUTH_TOKEN_PATH` (else `~/.ray/auth_token`) or the `RAY_AUTH_TOKEN` variable.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from deployments.errors import (
    AdminTokenMissingError,
    AdminTokenNotConfiguredError,
    MissingApiKeyError,
    WrongAdminTokenError,
    WrongApiKeyError,
)


def load_api_keys(env_name: str | None, environ: Mapping[str, str]) -> frozenset[str] | None:
    """The accepted keys, or None when the data plane is open (no `api_keys_env`)."""
    if env_name is None:
        return None
    return frozenset(key.strip() for key in environ.get(env_name, "").split(",") if key.strip())


def bearer(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <x>` header, or None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def check_api_key(keys: frozenset[str] | None, authorization: str | None, x_api_key: str | None) -> None:
    if keys is None:
        return
    sent = bearer(authorization) or (x_api_key.strip() if x_api_key else None)
    if not sent:
        raise MissingApiKeyError()
    # Compare against every key without stopping early, so timing does not reveal which prefix matched.
    matches = [hmac.compare_digest(sent.encode(), key.encode()) for key in keys]
    if not any(matches):
        raise WrongApiKeyError()


def check_admin_token(expected: str | None, authorization: str | None) -> None:
    if expected is None:
        raise AdminTokenNotConfiguredError()
    sent = bearer(authorization)
    if sent is None:
        raise AdminTokenMissingError()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise WrongAdminTokenError()
