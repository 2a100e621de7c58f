"""`python -m rollout <strategy> --candidate ...` admits its candidate before the driver starts
(`rollout/admission.py` over `registry.stages`): archived is refused, gate-failed is refused unless
`--force --reason`, and a force is recorded. The registry's two calls are replaced by fakes; the driver runs in
the fake world of `driver_fakes.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import tags
from registry.stages import Admission, VersionFacts
from rollout import admission, cli, exit_codes
from tests.unit.rollout import driver_fakes as fakes

GATE_FAILED = {
    tags.GATE: "failed",
    tags.GATE_REASONS: "accuracy 0.9000 does not beat champion iris/1 (0.9600) by margin 0.0000",
}


class FakeRegistry:
    """The candidate's tags and aliases as the registry would answer them; what a force recorded."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {tags.GATE: "passed"}
        self.aliases: tuple[str, ...] = ()
        self.reads: list[tuple[str, str]] = []
        self.recorded: list[tuple[str, str, Admission, str]] = []

    def read_facts(self, model: str, version: str) -> VersionFacts:
        self.reads.append((model, version))
        return VersionFacts.from_tags(model, version, self.tags, self.aliases)

    def record(self, model: str, version: str, admitted: Admission, action: str) -> None:
        self.recorded.append((model, version, admitted, action))


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    fake = FakeRegistry()
    monkeypatch.setattr(admission, "read_facts", fake.read_facts)
    monkeypatch.setattr(admission, "record", fake.record)
    return fake


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: FakeRegistry) -> fakes.World:
    """Model 'iris', champion 1, candidate 2 (whatever the URI says) resolved without MLflow."""
    world = fakes.World(tmp_path / "state")
    monkeypatch.setattr(cli, "resolve_version", lambda candidate: "2")
    monkeypatch.setattr(
        cli, "_driver", lambda args, spec, on_progress: world.driver(spec=spec, on_progress=on_progress, owner="cli")
    )
    return world


def rollout(tmp_path: Path, strategy: str, candidate: str, *extra: str) -> list[str]:
    return [strategy, "--model", "iris", "--candidate", candidate, "--state-dir", str(tmp_path / "state"),
            "--reports-dir", str(tmp_path / "reports"), "--no-live", *extra]  # fmt: skip


def nothing_started(world: fakes.World) -> bool:
    return world.store.load() is None and world.router.writes == [] and world.registry.outcomes == []


@pytest.mark.parametrize("strategy", ["canary", "bluegreen", "shadow", "abtest"])
def test_an_archived_candidate_is_refused_by_every_strategy_even_forced(world, registry, tmp_path, capsys, strategy):
    registry.tags = {tags.ARCHIVED: "true", tags.GATE: "passed"}
    archived = (
        "error: Model iris/2 is archived, so it cannot be rolled out; "
        "unarchive it first: python -m registry unarchive iris/2\n"
    )
    assert cli.main(rollout(tmp_path, strategy, "models:/iris/2")) == exit_codes.REFUSED
    assert capsys.readouterr().err == archived
    forced = rollout(tmp_path, strategy, "models:/iris/2", "--force", "--reason", "needed")
    assert cli.main(forced) == exit_codes.REFUSED
    assert capsys.readouterr().err == archived
    assert nothing_started(world) and registry.recorded == []


def test_a_gate_failed_candidate_is_refused_naming_its_stage_and_the_gate_reasons(world, registry, tmp_path, capsys):
    registry.tags, registry.aliases = GATE_FAILED, ("challenger",)
    assert cli.main(rollout(tmp_path, "canary", "models:/iris@challenger")) == exit_codes.REFUSED
    assert capsys.readouterr().err == (
        "error: Model iris/2 (stage staging) did not pass the champion gate (rayship.gate=failed: accuracy 0.9000 "
        "does not beat champion iris/1 (0.9600) by margin 0.0000); it cannot be rolled out unless forced with "
        "--force --reason TEXT\n"
    )
    assert nothing_started(world) and registry.recorded == []


def test_force_without_a_reason_is_bad_input_before_the_registry_is_asked(world, registry, tmp_path, capsys):
    registry.tags = GATE_FAILED
    for reason in ((), ("--reason", "  ")):
        assert cli.main(rollout(tmp_path, "canary", "models:/iris/2", "--force", *reason)) == exit_codes.BAD_INPUT
        assert capsys.readouterr().err == "error: --force needs --reason TEXT: the reason is recorded on the version\n"
    assert registry.reads == [] and nothing_started(world)


def test_a_forced_candidate_is_recorded_then_rolled_out(world, registry, tmp_path, capsys):
    registry.tags = GATE_FAILED
    argv = rollout(tmp_path, "canary", "models:/iris/2", "--force", "--reason", "INC-42: the gate's holdout is stale")
    assert cli.main(argv) == cli.PROMOTED
    out = capsys.readouterr().out
    assert out.startswith(
        "Forced past the champion gate: iris/2 has rayship.gate=failed; "
        "reason recorded on the version: INC-42: the gate's holdout is stale\n"
    )
    assert "Rollout r1 of 'iris': Succeeded" in out
    [(model, version, admitted, action)] = registry.recorded
    assert (model, version, action) == ("iris", "2", "canary rollout of models:/iris/2")
    assert (admitted.forced, admitted.gate, admitted.reason) == (True, "failed", "INC-42: the gate's holdout is stale")
    assert world.registry.outcomes == [("iris", "1", "2", "promoted")]


@pytest.mark.parametrize("gate", [{tags.GATE: "passed"}, {tags.GATE: "off"}, {}])
def test_an_admitted_candidate_rolls_out_and_nothing_is_recorded(world, registry, tmp_path, capsys, gate):
    registry.tags = gate
    assert cli.main(rollout(tmp_path, "canary", "models:/iris/2", "--force", "--reason", "not needed")) == 0
    assert "Forced" not in capsys.readouterr().out
    assert registry.reads == [("iris", "2")] and registry.recorded == []


def test_admit_candidate_records_a_force_before_returning(registry):
    registry.tags = GATE_FAILED
    admitted = admission.admit_candidate(
        "iris", "2", strategy="shadow", candidate="iris@challenger", force=True, reason="shadow only"
    )
    assert admitted.forced and registry.recorded == [("iris", "2", admitted, "shadow rollout of iris@challenger")]
