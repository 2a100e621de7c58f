"""The integration tier's one shared local cluster: a Ray head and a real `mlflow server`, brought up once.

It honours the `RAYSHIP_*` settings (ports, state dir, workers) like `python -m cluster`. A cluster already up in
the same state dir (for example from `make up`) is reused and left running; one started here is stopped at the end
unless `RAYSHIP_TEST_KEEP_CLUSTER=1`. While the tier runs, the environment points every client (MLflow, Ray,
the Serve CLI) at this cluster, exactly as `eval "$(python -m cluster env)"` does in a shell.

`framework_winner(flavor)` runs each framework's tiny sweep once per session, for every directory's tests
(the training tests check the sweep, the serving tests serve its winner).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cluster import lifecycle
from cluster.commands import client_exports
from cluster.settings import ClusterSettings, settings_from_env
from cluster.token import token_path
from rollout.serve_file import SERVE_CONFIG_ENV
from tests.integration.sweeps import FRAMEWORK_CONFIGS, WINNER_ALIAS, FrameworkWinner, run_sweep_cli, shrink_spec

# Ray reads its auth mode once, when first imported; test modules import it at collection, before any fixture
# runs. So the tier's processes speak token auth from the start, as `python -m cluster env` has a shell do.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN_PATH", str(token_path()))


REPO = Path(__file__).resolve().parents[2]


def _say(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Iterator[ClusterSettings]:
    settings = settings_from_env()
    # Rollouts keep a Serve config file in step with what they apply; here a copy of the repository's, so the
    # tier never edits configs/serve.yaml (tests read it back from SERVE_CONFIG_ENV).
    serve_config = tmp_path_factory.mktemp("serve-config") / "serve.yaml"
    shutil.copy(REPO / "configs" / "serve.yaml", serve_config)
    rows = lifecycle.status(settings)
    reused = bool(rows) and all(running for _, _, running, _ in rows)
    if not reused:
        lifecycle.up(settings, say=_say)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in client_exports(settings, token_path()).items():
            patch.setenv(key, value)
        patch.setenv(SERVE_CONFIG_ENV, str(serve_config))
        yield settings
    if not reused and os.environ.get("RAYSHIP_TEST_KEEP_CLUSTER") != "1":
        lifecycle.down(settings, say=_say)


@pytest.fixture(scope="session")
def framework_winner(cluster, tmp_path_factory) -> Callable[[str], FrameworkWinner]:
    """`framework_winner("sklearn" | "xgboost" | "pytorch")`: that framework's shipped spec (`FRAMEWORK_CONFIGS`)
    shrunk to two trials, swept and registered (alias `challenger`) the first time any test asks, then the same
    winner for the rest of the session. A sweep that failed is not run again: later callers fail with its error."""
    workdir = tmp_path_factory.mktemp("framework-sweeps")
    done: dict[str, FrameworkWinner | BaseException] = {}

    def winner(flavor: str) -> FrameworkWinner:
        if flavor not in done:
            spec = shrink_spec(FRAMEWORK_CONFIGS[flavor])
            try:
                done[flavor] = FrameworkWinner(flavor, spec, run_sweep_cli(spec, WINNER_ALIAS, workdir))
            except BaseException as exc:
                done[flavor] = exc
                raise
        result = done[flavor]
        if isinstance(result, BaseException):
            raise AssertionError(f"the {flavor} sweep failed earlier in this session: {result}")
        return result

    return winner
