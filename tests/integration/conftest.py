"""The integration tier's one shared local cluster: a Ray head and a real `mlflow server`, brought up once.

It honours the `RAYSHIP_*` settings (ports, state dir, workers) like `python -m cluster`. A cluster already up in
the same state dir (for example from `make up`) is reused and left running; one started here is stopped at the end
unless `RAYSHIP_TEST_KEEP_CLUSTER=1`. While the tier runs, the environment points every client (MLflow, Ray,
the Serve CLI) at this cluster, exactly as `eval "$(python -m cluster env)"` does in a shell.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from cluster import lifecycle
from cluster.commands import client_exports
from cluster.settings import ClusterSettings, settings_from_env
from cluster.token import token_path

# Ray reads its auth mode once, when first imported; test modules import it at collection, before any fixture
# runs. So the tier's processes speak token auth from the start, as `python -m cluster env` has a shell do.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN_PATH", str(token_path()))


def _say(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterSettings]:
    settings = settings_from_env()
    rows = lifecycle.status(settings)
    reused = bool(rows) and all(running for _, _, running, _ in rows)
    if not reused:
        lifecycle.up(settings, say=_say)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in client_exports(settings, token_path()).items():
            patch.setenv(key, value)
        yield settings
    if not reused and os.environ.get("RAYSHIP_TEST_KEEP_CLUSTER") != "1":
        lifecycle.down(settings, say=_say)
