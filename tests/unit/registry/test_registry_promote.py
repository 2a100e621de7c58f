"""`python -m registry promote|unarchive` against a real MLflow registry in sqlite (conftest.py): stages move their
alias, archived and gate-failed versions are refused, a force is recorded on the version."""

from __future__ import annotations

from datetime import datetime

import pytest

from registry import tags
from registry.api import PinnedVersion, register
from registry.catalog import archive, model_card
from registry.cli import EXIT_ERROR, EXIT_OK, main
from registry.promotion import local_actor

MODEL = "promote-model"
GATE_FAILED = {tags.GATE: "failed", tags.GATE_REASONS: "accuracy 0.5000 misses the minimum 0.9000"}


@pytest.fixture
def cli(sqlite_client, capsys):
    def run(*argv):
        code = main(["--tracking-uri", sqlite_client.tracking_uri, *argv])
        captured = capsys.readouterr()
        return code, captured.out.strip(), captured.err.strip()

    return run


@pytest.fixture
def new_version(sqlite_client, logged_model_id):
    def one(gate_tags: dict[str, str]) -> str:
        pinned = register(
            MODEL,
            logged_model_id,
            metrics={"accuracy": 0.5},
            dataset_fingerprint="f" * 64,
            sweep_id="s",
            trial_id="t",
            extra_tags=gate_tags,
            client=sqlite_client,
        )
        return pinned.version

    return one


def aliases(client) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(MODEL).aliases.items()}


def version_tags(client, version: str) -> dict[str, str]:
    return dict(client.get_model_version(MODEL, version).tags)


def test_promote_moves_the_stage_alias_and_says_where_it_was(cli, new_version, sqlite_client) -> None:
    first, second = new_version({tags.GATE: "passed"}), new_version({tags.GATE: "off"})
    previous = aliases(sqlite_client).get("champion")
    was = f" (was v{previous})" if previous else " (new)"  # the module's tests share one registry
    assert cli("promote", MODEL, first, "--to", "production") == (
        EXIT_OK,
        f"promoted {MODEL}/{first} to production: {MODEL}@champion -> v{first}{was}",
        "",
    )
    code, out, _ = cli("promote", MODEL, second, "--to", "production")
    assert (code, out) == (
        EXIT_OK,
        f"promoted {MODEL}/{second} to production: {MODEL}@champion -> v{second} (was v{first})",
    )
    code, out, _ = cli("promote", MODEL, "@champion", "--to", "challenger")  # a stage by its alias, a version by alias
    assert code == EXIT_OK and out.startswith(f"promoted {MODEL}/{second} to staging: {MODEL}@challenger -> v{second}")
    assert (aliases(sqlite_client)["champion"], aliases(sqlite_client)["challenger"]) == (second, second)
    code, out, _ = cli("show", f"{MODEL}/{second}")
    assert code == EXIT_OK and any(line.split()[1:4] == ["stage", "│", "production"] for line in out.splitlines())
    assert not any(key.startswith("rayship.force") for key in version_tags(sqlite_client, second))


def test_a_gate_failed_version_is_refused_unless_forced_with_a_reason(cli, new_version, sqlite_client) -> None:
    champion = new_version({tags.GATE: "passed"})
    assert cli("promote", MODEL, champion, "--to", "production")[0] == EXIT_OK
    failed = new_version(GATE_FAILED)
    code, out, err = cli("promote", MODEL, failed, "--to", "production")
    assert (code, out, err) == (
        EXIT_ERROR,
        "",
        f"error: Model {MODEL}/{failed} (no stage) did not pass the champion gate (rayship.gate=failed: accuracy "
        "0.5000 misses the minimum 0.9000); it cannot be promoted to production (alias champion) unless forced "
        "with --force --reason TEXT",
    )
    assert cli("promote", MODEL, failed, "--to", "production", "--force") == (
        EXIT_ERROR,
        "",
        "error: --force needs --reason TEXT: the reason is recorded on the version",
    )
    assert aliases(sqlite_client)["champion"] == champion  # nothing moved
    code, out, err = cli("promote", MODEL, failed, "--to", "production", "--force", "--reason", "INC-42 [rollback]")
    assert (code, err) == (EXIT_OK, "")
    assert out.splitlines() == [
        f"promoted {MODEL}/{failed} to production: {MODEL}@champion -> v{failed} (was v{champion})",
        f"forced past the champion gate (rayship.gate=failed); reason recorded on {MODEL}/{failed}: INC-42 [rollback]",
    ]
    recorded = version_tags(sqlite_client, failed)
    assert {key: recorded[key] for key in (tags.FORCED_BY, tags.FORCED_FOR, tags.FORCE_REASON)} == {
        tags.FORCED_BY: local_actor(),
        tags.FORCED_FOR: "promote to production",
        tags.FORCE_REASON: "INC-42 [rollback]",
    }
    assert datetime.fromisoformat(recorded[tags.FORCED_AT]).tzinfo is not None
    assert recorded[tags.GATE] == "failed"  # the gate's verdict stays as it was


def test_an_archived_version_is_refused_even_forced_until_unarchived(cli, new_version, sqlite_client) -> None:
    version = new_version({tags.GATE: "passed"})
    pinned = PinnedVersion(name=MODEL, version=version)
    archive(pinned, sqlite_client)
    archived_error = (
        f"error: Model {MODEL}/{version} is archived, so it cannot be promoted to staging (alias challenger); "
        f"unarchive it first: python -m registry unarchive {MODEL}/{version}"
    )
    assert cli("promote", MODEL, version, "--to", "staging") == (EXIT_ERROR, "", archived_error)
    assert cli("promote", MODEL, version, "--to", "staging", "--force", "--reason", "please") == (
        EXIT_ERROR,
        "",
        archived_error,
    )
    assert cli("unarchive", f"{MODEL}/{version}") == (EXIT_OK, f"unarchived {MODEL}/{version}", "")
    assert model_card(pinned, sqlite_client).archived is False
    assert tags.ARCHIVED not in version_tags(sqlite_client, version)
    assert cli("unarchive", f"models:/{MODEL}/{version}") == (
        EXIT_OK,
        f"{MODEL}/{version} is not archived; nothing to do",
        "",
    )
    code, out, _ = cli("promote", MODEL, version, "--to", "staging")
    assert code == EXIT_OK and out.startswith(
        f"promoted {MODEL}/{version} to staging: {MODEL}@challenger -> v{version}"
    )


def test_an_unknown_stage_or_version_is_one_error_line(cli, new_version) -> None:
    version = new_version({tags.GATE: "passed"})
    assert cli("promote", MODEL, version, "--to", "prod") == (
        EXIT_ERROR,
        "",
        "error: Unknown stage 'prod': use production (alias champion) or staging (alias challenger)",
    )
    assert cli("promote", MODEL, "999", "--to", "production") == (
        EXIT_ERROR,
        "",
        f"error: Model '{MODEL}' has no version '999'",
    )
