"""`kill -9` of a live `python -m rollout canary` and the same command run again, on the shared local cluster.

The driver persists every decision before acting (rollout/persistence/store.py), so the rerun takes the dead driver's
lease over and continues: each weight is applied exactly once in the event log, and the rollout is promoted. While no
driver runs, nothing changes the split: the gateway keeps serving the last applied weights.

The driver is killed between two steps (frozen with SIGSTOP first, then killed only when no step is pending), so
the split the gateway must keep is exactly the last logged one; a kill in the middle of a step, which the rerun
replays, is covered by the unit tests (tests/unit/rollout/test_rollout_driver.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cluster.settings import ClusterSettings
from rayship.lease import LeaseFile
from registry.api import PinnedVersion, resolve
from registry.catalog import set_alias
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.persistence.store import RolloutStore

MODEL = "iris-rollout"  # the model the fixtures in conftest.py register
REPO = Path(__file__).resolve().parents[3]


def kill_between_steps(driver: subprocess.Popen, store: RolloutStore, wait_for) -> None:
    """SIGKILL the driver once it has applied a weight, at an instant when no step of it is pending."""

    def frozen_between_steps() -> bool:
        if not any(event.action == "advance" for event in store.events()):
            assert driver.poll() is None, "the driver ended before applying a weight"
            return False
        os.kill(driver.pid, signal.SIGSTOP)
        if store.load().pending is None:
            return True
        os.kill(driver.pid, signal.SIGCONT)
        return False

    wait_for(frozen_between_steps, "the driver to apply a weight and stand between steps")
    driver.kill()
    assert driver.wait(timeout=60) == -signal.SIGKILL


def test_a_canary_killed_with_sigkill_resumes_on_rerun_applying_each_weight_once(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion: PinnedVersion,
    serve_router: ServeRestRouter,
    traffic,
    spec_file,
    wait_for,
    served,
    tmp_path: Path,
) -> None:
    champion, good = serve_champion, rollout_versions["good"]
    set_alias(MODEL, "champion", champion.version)
    state_dir = tmp_path / "state"
    spec = spec_file("canary", interval_s=2, step_weights=[20, 50, 80], warm_window_s=1)
    command = [sys.executable, "-m", "rollout", "canary", "--model", MODEL, "--candidate", good.uri,
               "--spec", str(spec), "--state-dir", str(state_dir), "--reports-dir", str(tmp_path / "reports"),
               "--no-live"]  # fmt: skip
    store = RolloutStore(state_dir, MODEL)
    with traffic(cluster.serve_url) as seen, (tmp_path / "first.log").open("w") as first_log:
        first = subprocess.Popen(command, cwd=REPO, stdout=first_log, stderr=subprocess.STDOUT)
        kill_between_steps(first, store, wait_for)

        # No driver runs now: its lease is left behind, and the gateway keeps the last split it applied.
        at_kill = store.events()
        weights = at_kill[-1].effect.weights
        assert LeaseFile(state_dir, MODEL).read().owner.split(":")[1] == str(first.pid)
        assert serve_router.applied().weights(MODEL) == weights
        answers = served(100)
        assert set(answers) == {(200, champion.version), (200, good.version)}, answers
        assert serve_router.applied().weights(MODEL) == weights

        rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    events = store.events()
    assert f"Rollout {events[0].rollout_id} of '{MODEL}': Succeeded (version {good.version} promoted)" in rerun.stdout
    assert events[: len(at_kill)] == at_kill
    assert [(event.action, event.candidate_weight) for event in events] == [
        ("deploy_candidate", 0),
        ("advance", 20),
        ("advance", 50),
        ("advance", 80),
        ("promote", 100),
        ("remove_version", 100),
    ]
    assert [event.step_id for event in events] == list(range(events[0].step_id, events[0].step_id + len(events)))
    assert {event.rollout_id for event in events} == {events[0].rollout_id}
    assert not any(event.replayed or event.error for event in events)
    assert seen.failures == []
    assert serve_router.applied().weights(MODEL) == {good.version: 100}
    assert resolve(f"models:/{MODEL}@champion").version == good.version
