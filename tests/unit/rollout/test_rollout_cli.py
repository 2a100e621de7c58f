"""`python -m rollout`: argument checks, exit codes and the report, with the driver's in-memory fakes
(router, simulated gateway, fake clock; `driver_fakes.py`) standing in for the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayship.lease import LeaseFile
from rollout import cli
from rollout.persistence.store import RolloutStore
from tests.unit.rollout import driver_fakes as fakes


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI wired to a fake world: model 'iris', champion 1, candidate 2 resolved without MLflow."""
    world = fakes.World(tmp_path / "state")
    monkeypatch.setattr(cli, "resolve_version", lambda candidate: candidate.rpartition("/")[2])
    monkeypatch.setattr(cli, "_admit", lambda args, version: None)  # admission: test_rollout_admission.py
    monkeypatch.setattr(
        cli, "_driver", lambda args, spec, on_progress: world.driver(spec=spec, on_progress=on_progress, owner="cli")
    )
    return world


def canary(tmp_path: Path, *extra: str) -> list[str]:
    return ["canary", "--model", "iris", "--candidate", "models:/iris/2", "--state-dir", str(tmp_path / "state"),
            "--reports-dir", str(tmp_path / "reports"), "--no-live", *extra]  # fmt: skip


def test_a_promotion_exits_0_and_writes_the_report(world, tmp_path: Path, capsys) -> None:
    assert cli.main(canary(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "Rollout r1 of 'iris': Succeeded" in out
    assert f"Report: {tmp_path / 'reports'}" in out
    assert sorted(path.suffix for path in (tmp_path / "reports").iterdir()) == [".md", ".png"]
    markdown = next((tmp_path / "reports").glob("*.md")).read_text()
    intervals = markdown.partition("## Intervals analysed")[2].splitlines()
    rows = [line for line in intervals if line.startswith("| ") and not line.startswith("| t (s)")]
    assert len(rows) == 4  # one per step: the intervals whose analysis led to an action count too
    assert world.registry.outcomes == [("iris", "1", "2", "promoted")]


def test_a_rollback_exits_1(world, tmp_path: Path, capsys) -> None:
    world.gateway.broken_from["2"] = 0
    assert cli.main(canary(tmp_path)) == 1
    assert "Rollout r1 of 'iris': Failed" in capsys.readouterr().out
    assert world.registry.outcomes == [("iris", "1", "2", "rolled_back")]


def test_status_after_a_rollout_and_without_one(world, tmp_path: Path, capsys) -> None:
    state_dir = str(tmp_path / "state")
    assert cli.main(["status", "--model", "iris", "--state-dir", state_dir]) == 2
    assert capsys.readouterr().err == f"error: Model 'iris' has no rollout in {state_dir}\n"
    cli.main(canary(tmp_path))
    capsys.readouterr()
    assert cli.main(["status", "--model", "iris", "--state-dir", state_dir]) == 0
    out = capsys.readouterr().out
    assert "iris: 1 -> 2 (canary, rollout r1)" in out
    assert "phase Succeeded, candidate weight 100 %" in out
    assert "driver: none running" in out


def test_a_second_driver_is_refused_naming_the_holder(world, tmp_path: Path, capsys) -> None:
    LeaseFile(tmp_path / "state", "iris").acquire("host:1:other", ttl_s=300, now_s=world.clock.now())
    assert cli.main(canary(tmp_path)) == 3
    assert capsys.readouterr().err.startswith("error: Rollout of model 'iris' is driven by 'host:1:other'")


def test_a_candidate_of_another_model_is_bad_input(world, tmp_path: Path, capsys) -> None:
    argv = canary(tmp_path)
    argv[argv.index("models:/iris/2")] = "models:/wine@challenger"
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "error: Candidate models:/wine@challenger is a version of model 'wine', not of 'iris'\n"
    )


def test_a_spec_with_a_bad_field_names_the_field(world, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("strategy: canary\ninterval_s: -5\nstep_weights: [20, 50]\n")
    assert cli.main(canary(tmp_path, "--spec", str(spec))) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Rollout spec {spec}: interval_s: ")


def test_a_spec_of_another_strategy_is_refused(world, tmp_path: Path, capsys) -> None:
    spec = str(cli.SPEC_DIR / "shadow.yaml")
    assert cli.main(canary(tmp_path, "--spec", spec)) == 2
    assert capsys.readouterr().err == f"error: Rollout spec {spec}: strategy is 'shadow' but the command is 'canary'\n"


def test_missing_arguments_are_bad_input(capsys) -> None:
    assert cli.main(["canary", "--model", "iris"]) == 2
    assert "--candidate" in capsys.readouterr().err
    assert cli.main(["rollback"]) == 2


def test_a_missing_cluster_setting_is_named(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("RAY_DASHBOARD_ADDRESS", raising=False)
    monkeypatch.setattr(cli, "resolve_version", lambda candidate: "2")
    assert cli.main(canary(tmp_path)) == 2
    assert capsys.readouterr().err == (
        'error: RAY_DASHBOARD_ADDRESS is not set; run: eval "$(python -m cluster env)"\n'
    )


def test_the_rayservice_router_needs_its_name(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RAYSHIP_SERVE_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(cli, "resolve_version", lambda candidate: "2")
    assert cli.main(canary(tmp_path, "--router", "rayservice")) == 2
    assert capsys.readouterr().err == "error: --router rayservice needs --rayservice NAME\n"


def test_a_model_missing_from_the_gateway_policy_is_bad_input(world, tmp_path: Path, monkeypatch, capsys) -> None:
    state = tmp_path / "state"
    monkeypatch.setattr(
        cli,
        "_driver",
        lambda args, spec, on_progress: world.driver(
            model="wine", spec=spec, store=RolloutStore(state, "wine"), lease=LeaseFile(state, "wine")
        ),
    )
    argv = canary(tmp_path)
    argv[argv.index("iris")] = "wine"
    argv[argv.index("models:/iris/2")] = "models:/wine/2"
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == "error: Gateway has no traffic policy for model 'wine'\n"
    assert LeaseFile(state, "wine").read() is None


def test_abort_without_a_rollout_is_bad_input(world, tmp_path: Path, capsys) -> None:
    abort = ["abort", "--model", "iris", "--state-dir", str(tmp_path / "state")]
    assert cli.main(abort) == 2
    assert capsys.readouterr().err == f"error: Model 'iris' has no rollout in {tmp_path / 'state'}\n"


def test_abort_while_a_driver_runs_asks_that_driver(world, tmp_path: Path, capsys) -> None:
    LeaseFile(tmp_path / "state", "iris").acquire("host:1:other", ttl_s=300, now_s=world.clock.now())
    assert cli.main(["abort", "--model", "iris", "--state-dir", str(tmp_path / "state"), "--reason", "p99 alert"]) == 0
    assert capsys.readouterr().out == (
        "Abort requested; the running driver 'host:1:other' acts on it at its next step\n"
    )
    assert world.store.abort_request() == "p99 alert"


def test_abort_after_a_finished_rollout_has_nothing_to_do(world, tmp_path: Path, capsys) -> None:
    world.driver(spec=world.spec.model_copy(update={"warm_window_s": 0.0})).run("2")
    capsys.readouterr()
    assert cli.main(["abort", "--model", "iris", "--state-dir", str(tmp_path / "state")]) == 0
    assert capsys.readouterr().out == "Rollout r1 of 'iris' already finished (Succeeded); nothing to abort\n"
    assert world.registry.outcomes == [("iris", "1", "2", "promoted")]
