"""`python -m rollout canary` end to end on the local cluster: the CLI reads the addresses the `cluster` fixture
exports (as `eval "$(python -m cluster env)"` would), promotes a good candidate, moves the MLflow alias
`champion`, tags both versions and writes the report; a second driver for the same model is refused."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import yaml
from mlflow import MlflowClient

from cluster.settings import ClusterSettings
from rayship.lease import LeaseFile
from registry.api import resolve
from registry.catalog import set_alias
from rollout.cli import main
from rollout.live_config import parse_live_config
from rollout.serve_file import SERVE_CONFIG_ENV

MODEL = "iris-rollout"  # the model the fixtures in conftest.py register


def wait_for_lease(state_dir: Path, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lease = LeaseFile(state_dir, MODEL).read()
        if lease is not None:
            return lease.owner
        time.sleep(0.2)
    raise AssertionError(f"no driver took the lease of {MODEL} within {timeout_s:.0f} s")


def test_the_cli_promotes_a_good_candidate_and_refuses_a_second_driver(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion,
    serve_router,
    traffic,
    spec_file,
    tmp_path: Path,
    capsys,
) -> None:
    champion, good = serve_champion, rollout_versions["good"]
    set_alias(MODEL, "champion", champion.version)
    state_dir, reports_dir = tmp_path / "state", tmp_path / "reports"
    argv = ["canary", "--model", MODEL, "--candidate", good.uri, "--spec", str(spec_file("canary", warm_window_s=2)),
            "--state-dir", str(state_dir), "--reports-dir", str(reports_dir), "--no-live"]  # fmt: skip
    exit_codes: list[int] = []
    first = threading.Thread(target=lambda: exit_codes.append(main(argv)))
    with traffic(cluster.serve_url) as seen:
        first.start()
        holder = wait_for_lease(state_dir)
        second = main(argv)
        first.join(timeout=600)

    assert second == 3
    captured = capsys.readouterr()
    err = captured.err
    assert f"error: Rollout of model '{MODEL}' is driven by '{holder}'" in err
    assert exit_codes == [0]
    assert seen.failures == []
    assert resolve(f"models:/{MODEL}@champion").version == good.version
    client = MlflowClient()
    for version, role in ((champion.version, "champion"), (good.version, "candidate")):
        tags = client.get_model_version(MODEL, version).tags
        assert (tags["rayship.rollout.verdict"], tags["rayship.rollout.role"]) == ("promoted", role)
    assert sorted(path.suffix for path in reports_dir.iterdir()) == [".md", ".png"]
    markdown = next(reports_dir.glob("*.md")).read_text()
    assert markdown.startswith(f"# Rollout {tags['rayship.rollout.id']}: {MODEL} {champion.version} -> ")
    # The Serve config file now says what is live: deploying it again would change nothing of this model.
    serve_file = Path(os.environ[SERVE_CONFIG_ENV])
    filed, live = parse_live_config(yaml.safe_load(serve_file.read_text())), serve_router.applied()
    assert filed.policy(MODEL) == live.policy(MODEL)
    assert filed.weights(MODEL)[good.version] == 100
    assert {route.app for route in filed.policy(MODEL).versions} <= set(filed.app_names())
    assert f"{serve_file}: '{MODEL}' set to what is live (" in captured.out


def test_the_cli_rolls_a_broken_candidate_back_with_exit_1_and_the_alias_unmoved(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion,
    serve_router,
    traffic,
    spec_file,
    tmp_path: Path,
    capsys,
) -> None:
    champion, broken = serve_champion, rollout_versions["broken"]
    set_alias(MODEL, "champion", champion.version)
    state_dir, reports_dir = tmp_path / "state", tmp_path / "reports"
    argv = ["canary", "--model", MODEL, "--candidate", broken.uri, "--spec", str(spec_file("canary", warm_window_s=2)),
            "--state-dir", str(state_dir), "--reports-dir", str(reports_dir), "--no-live"]  # fmt: skip
    with traffic(cluster.serve_url) as seen:
        assert main(argv) == 1

    assert seen.failures == []  # failover served every failed candidate request from the champion
    assert resolve(f"models:/{MODEL}@champion").version == champion.version
    tags = MlflowClient().get_model_version(MODEL, broken.version).tags
    assert (tags["rayship.rollout.verdict"], tags["rayship.rollout.role"]) == ("rolled_back", "candidate")
    assert "Failed" in capsys.readouterr().out
    assert sorted(path.suffix for path in reports_dir.iterdir()) == [".md", ".png"]
