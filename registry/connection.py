"""Connecting to MLflow and turning its exceptions into rayship's: the seam every registry verb goes through."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry.errors import RegistryBackendError, RegistryUnavailableError

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
PROBE_ATTEMPTS = 3
PROBE_BACKOFF_S = 0.5
PROBE_TIMEOUT_S = 5.0


def tracking_uri_from_env(environ: dict[str, str] | None = None) -> str:
    """`MLFLOW_TRACKING_URI`, or the local cluster's MLflow server when it is unset."""
    env = os.environ if environ is None else environ
    return env.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def probe(
    tracking_uri: str,
    attempts: int = PROBE_ATTEMPTS,
    backoff_s: float = PROBE_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Check an HTTP tracking server answers `/health`, retrying a bounded number of times.

    MLflow's own HTTP client retries for minutes before giving up; probing first turns a dead server into a clear
    error within seconds. Non-HTTP URIs (sqlite, file) are local and need no probe.
    """
    if not tracking_uri.startswith(("http://", "https://")):
        return
    reason = "no attempt made"
    for attempt in range(attempts):
        try:
            response = httpx.get(f"{tracking_uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S)
            if response.status_code == 200:
                return
            reason = f"HTTP {response.status_code} from /health"
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
        if attempt + 1 < attempts:
            sleep(backoff_s * 2**attempt)
    raise RegistryUnavailableError(tracking_uri, attempts, reason)


def connect(tracking_uri: str | None = None) -> MlflowClient:
    """An `MlflowClient` for the tracking server (also the registry), after checking it answers."""
    uri = tracking_uri or tracking_uri_from_env()
    probe(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def error_code(exc: MlflowException) -> str:
    """MLflow's symbolic error code, e.g. 'RESOURCE_DOES_NOT_EXIST'."""
    return str(getattr(exc, "error_code", ""))


def _is_connection_failure(exc: MlflowException) -> bool:
    # MLflow wraps requests' ConnectionError as "API request to <url> failed with exception ...".
    return "API request to" in exc.message and "failed with exception" in exc.message


@contextmanager
def mlflow_errors(action: str, client: MlflowClient) -> Iterator[None]:
    """Re-raise any MLflow exception not handled inside the block as a rayship error naming `action`."""
    try:
        yield
    except MlflowException as exc:
        if _is_connection_failure(exc):
            raise RegistryUnavailableError(client.tracking_uri, 1, exc.message) from exc
        raise RegistryBackendError(action, exc.message) from exc
