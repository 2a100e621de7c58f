import pytest

from rayship.errors import VersionNotFoundError
from registry import tags as tag_names
from registry.api import PinnedVersion, register
from registry.catalog import archive, delete_alias, list_models, list_versions, model_card, set_alias
from registry.errors import AliasHeldError, AliasNotFoundError, InvalidAliasError


@pytest.fixture
def two_versions(sqlite_client, logged_model_id):
    def one(trial):
        return register(
            "catalog-model",
            logged_model_id,
            metrics={"accuracy": 0.9},
            dataset_fingerprint="d" * 64,
            sweep_id="sweep-9",
            trial_id=trial,
            extra_tags={tag_names.GATE: "passed", tag_names.GATE_REASONS: "no champion"},
            client=sqlite_client,
        )

    return one("t1"), one("t2")


def test_aliases_move_and_report_where_they_were(sqlite_client, two_versions):
    first, second = two_versions
    created = set_alias("catalog-model", "champion", first.version, client=sqlite_client)
    assert (created.previous_version, created.version) == (None, first.version)
    moved = set_alias("catalog-model", "champion", second.version, client=sqlite_client)
    assert (moved.previous_version, moved.version) == (first.version, second.version)
    assert model_card(second, sqlite_client).aliases == ["champion"]
    assert model_card(first, sqlite_client).aliases == []
    assert delete_alias("catalog-model", "champion", client=sqlite_client) == second.version
    with pytest.raises(AliasNotFoundError, match=r"^Model 'catalog-model' has no alias 'champion'$"):
        delete_alias("catalog-model", "champion", client=sqlite_client)


def test_alias_errors_name_the_problem(sqlite_client, two_versions):
    with pytest.raises(VersionNotFoundError, match=r"^Model 'catalog-model' has no version '99'$"):
        set_alias("catalog-model", "champion", "99", client=sqlite_client)
    with pytest.raises(InvalidAliasError):
        set_alias("catalog-model", "v3", two_versions[0].version, client=sqlite_client)


def test_model_card_carries_metrics_lineage_gate_and_digests(sqlite_client, two_versions):
    card = model_card(two_versions[0], sqlite_client)
    assert card.metrics == {"accuracy": 0.9}
    assert card.lineage["dataset_sha256"] == "d" * 64
    assert card.lineage["sweep_id"] == "sweep-9"
    assert card.lineage["trial_id"] == "t1"
    assert (card.gate, card.gate_reasons) == ("passed", "no champion")
    assert "MLmodel" in card.digests
    assert card.archived is False


def test_list_models_and_versions(sqlite_client, two_versions):
    set_alias("catalog-model", "challenger", two_versions[1].version, client=sqlite_client)
    summary = next(m for m in list_models(sqlite_client) if m.name == "catalog-model")
    assert summary.aliases["challenger"] == two_versions[1].version
    versions = [c.version for c in list_versions("catalog-model", sqlite_client)]
    assert versions == sorted(versions, key=int, reverse=True)
    assert {two_versions[0].version, two_versions[1].version} <= set(versions)


def test_archive_is_refused_while_an_alias_holds_the_version(sqlite_client, two_versions):
    first, _ = two_versions
    set_alias("catalog-model", "champion", first.version, client=sqlite_client)
    with pytest.raises(AliasHeldError) as info:
        archive(first, sqlite_client)
    assert str(info.value) == (
        f"Model catalog-model/{first.version} holds alias 'champion'; move or delete the alias before archiving it"
    )
    delete_alias("catalog-model", "champion", client=sqlite_client)
    assert archive(first, sqlite_client).archived is True
    assert model_card(PinnedVersion(name="catalog-model", version=first.version), sqlite_client).archived is True
