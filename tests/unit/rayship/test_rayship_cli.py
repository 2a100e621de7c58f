"""`rayship`, the one command: its table of subcommands, each a package CLI's `main`, and the dispatch."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from rayship import cli


def test_every_subcommand_names_a_package_cli_with_a_main() -> None:
    for name, command in cli.COMMANDS.items():
        module = importlib.import_module(command.module)
        assert callable(module.main), name


def test_the_flows_the_readme_shows_are_all_there() -> None:
    assert list(cli.COMMANDS) == [
        "up", "down", "status", "env", "train", "registry", "deploy", "scale", "rollout", "monitor", "render",
    ]  # fmt: skip


def test_help_lists_every_command_with_what_it_does(capsys) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: rayship [-h] COMMAND [ARGS ...]\n")
    assert "  train     run a training spec as a Ray Tune sweep into MLflow\n" in out
    assert out.endswith("`rayship COMMAND --help` explains each one.\n")


def test_no_command_prints_help_and_is_a_usage_error(capsys) -> None:
    assert cli.main([]) == 2
    assert capsys.readouterr().out.startswith("usage: rayship")


def test_an_unknown_command_is_named(capsys) -> None:
    assert cli.main(["trian"]) == 2
    assert capsys.readouterr().err.endswith(
        "rayship: error: unknown command 'trian' (choose from up, down, status, env, train, registry, deploy, "
        "scale, rollout, monitor, render)\n"
    )


def test_a_command_runs_its_package_main_with_its_leading_arguments(monkeypatch) -> None:
    calls: list[list[str]] = []
    fake = types.ModuleType("fake_cli")
    fake.main = lambda argv: calls.append(argv) or 7
    monkeypatch.setitem(sys.modules, "fake_cli", fake)
    monkeypatch.setitem(cli.COMMANDS, "train", cli.Command("fake_cli", ("sweep",), "x"))
    assert cli.main(["train", "--config", "configs/training/iris-sklearn.yaml"]) == 7
    assert calls == [["sweep", "--config", "configs/training/iris-sklearn.yaml"]]


def test_a_package_help_is_reached_through_rayship(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["registry", "--help"])
    assert exited.value.code == 0
    assert "promote" in capsys.readouterr().out
