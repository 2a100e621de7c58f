"""Keeping a Serve config file in step with what a rollout applied (`rollout.serve_file`): only the rolled-out
model's policy and version apps change, comments and everything else stay; a whole driver run leaves the file
saying what is live; a file it cannot keep in step is refused before the rollout starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployments.app_config import version_app
from deployments.traffic_policy import ModelPolicy
from rollout import cli, serve_file
from rollout.errors import ServeFileError
from rollout.live_config import parse_app, parse_live_config
from rollout.serve_edits import (
    with_champion,
    with_model_policy,
    with_version,
    with_version_app,
    with_weights,
    without_version,
)
from rollout.serve_file import SERVE_CONFIG_ENV, ServeFileSync, SyncedRouter, synced_text
from tests.unit.rollout import driver_fakes as fakes

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


def shipped() -> str:
    return SERVE_YAML.read_text(encoding="utf-8")


def live_of(text: str):
    return parse_live_config(yaml.safe_load(text))


def canary_step(text: str, weight: int):
    live = with_version(live_of(text), "iris", "2", parse_app(version_app("iris", "2")))
    return with_weights(live, "iris", {"1": 100 - weight, "2": weight})


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


def test_a_file_that_says_what_is_live_is_left_byte_for_byte() -> None:
    assert synced_text(shipped(), live_of(shipped()), "iris") == shipped()


def test_a_canary_step_changes_the_weights_and_adds_the_candidate_app_and_nothing_else() -> None:
    after = synced_text(shipped(), canary_step(shipped(), 10), "iris")
    removed, added = changed_lines(shipped(), after)
    assert removed == ['                - {version: "1", app: iris-v1, weight: 100}']
    assert added == [
        '                - {version: "1", app: iris-v1, weight: 90}',
        '                - {version: "2", app: iris-v2, weight: 10}',
        "  - name: iris-v2",
        "      model_uri: models:/iris/2",
    ]  # the app's other lines (route_prefix, import_path, args) are lines iris-v1 has too
    assert after.startswith(shipped().partition("proxy_location")[0])  # the header comments survive
    assert live_of(after).weights("iris") == {"1": 90, "2": 10}


def test_a_promotion_leaves_only_the_new_champion_in_the_file() -> None:
    step = canary_step(shipped(), 10)
    promoted = with_champion(with_weights(step, "iris", {"2": 100}), "iris", "2")
    promoted = without_version(promoted, "iris", "1", "iris-v1")
    filed = live_of(synced_text(synced_text(shipped(), step, "iris"), promoted, "iris"))
    assert filed.app_names() == ["gateway", "iris-v2"]
    assert filed.policy("iris") == promoted.policy("iris")


def test_a_model_the_file_does_not_have_is_added_and_the_others_are_kept() -> None:
    live = live_of(shipped())
    wine = parse_app(version_app("wine", "4"))
    policy = {"versions": [{"version": "4", "app": "wine-v4", "weight": 100}]}
    live = with_model_policy(with_version_app(live, wine), "wine", ModelPolicy.model_validate(policy))
    filed = live_of(synced_text(shipped(), live, "wine"))
    assert filed.weights("wine") == {"4": 100}
    assert filed.policy("iris") == live_of(shipped()).policy("iris")
    assert filed.app_names() == ["gateway", "iris-v1", "wine-v4"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("applications: [", "not valid YAML"),
        ("- 1\n", "it is not a mapping with an 'applications' list"),
        ("applications: {}\n", "'applications' is not a list of mappings"),
        ("applications: [{name: iris-v1}]\n", "it has no 'gateway' application"),
        ("applications: [{name: gateway, deployments: []}]\n", "its 'gateway' application has no 'Gateway' deployment"),
    ],
)
def test_a_file_it_cannot_keep_in_step_is_named_with_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ServeFileError) as caught:
        synced_text(text, live_of(shipped()), "iris", "my.yaml")
    assert str(caught.value).startswith(f"Serve config file my.yaml: {problem}")
    assert caught.value.status_code == 400


def test_a_whole_canary_leaves_the_file_saying_what_is_live(tmp_path: Path) -> None:
    world, path, said = fakes.World(tmp_path / "state"), tmp_path / "serve.yaml", []
    path.write_text(yaml.safe_dump(world.router.read_config(), sort_keys=False), encoding="utf-8")
    router = SyncedRouter(world.router, ServeFileSync(path, say=said.append))
    final = world.driver(router=router).run("2")
    assert final.phase.value == "Succeeded"
    filed = live_of(path.read_text(encoding="utf-8"))
    assert filed.policy("iris") == world.router.applied().policy("iris")
    assert filed.app_names() == world.router.applied().app_names()
    assert said[-1] == f"{path}: 'iris' set to what is live (v2 100 %); review it with git diff"


def test_a_file_broken_during_a_rollout_is_warned_about_and_the_rollout_goes_on(tmp_path: Path) -> None:
    world, path, said = fakes.World(tmp_path / "state"), tmp_path / "serve.yaml", []
    path.write_text("applications: [\n", encoding="utf-8")
    router = SyncedRouter(world.router, ServeFileSync(path, say=said.append))
    assert world.driver(router=router).run("2").phase.value == "Succeeded"
    assert path.read_text(encoding="utf-8") == "applications: [\n"
    assert said[0].startswith(f"warning: Serve config file {path}: not valid YAML")
    assert said[0].endswith(f"; deploying {path} now would undo the rollout's change to 'iris'")


def test_the_cli_keeps_the_repository_file_in_step_only_when_there_is_one(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SERVE_CONFIG_ENV, raising=False)
    args = cli.build_parser().parse_args(["abort", "--model", "iris"])
    assert serve_file.chosen(args) is None
    assert capsys.readouterr().out.startswith("note: no configs/serve.yaml here to keep in step with this change")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "serve.yaml").write_text(shipped(), encoding="utf-8")
    assert serve_file.chosen(args).path == Path("configs/serve.yaml")
    monkeypatch.setenv(SERVE_CONFIG_ENV, str(tmp_path / "elsewhere.yaml"))
    assert serve_file.chosen(args).path == tmp_path / "elsewhere.yaml"
    off = cli.build_parser().parse_args(["abort", "--model", "iris", "--no-serve-config-sync"])
    assert serve_file.chosen(off) is None
