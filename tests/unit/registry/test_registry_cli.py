import pytest

from registry.api import register
from registry.cli import EXIT_ERROR, EXIT_OK, EXIT_VERIFY_FAILED, main


@pytest.fixture
def cli(sqlite_client, capsys):
    def run(*argv):
        code = main(["--tracking-uri", sqlite_client.tracking_uri, *argv])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.fixture
def version(sqlite_client, logged_model_id):
    return register(
        "cli-model",
        logged_model_id,
        metrics={"accuracy": 0.97},
        dataset_fingerprint="e" * 64,
        sweep_id="s",
        trial_id="t",
        client=sqlite_client,
    )


def test_alias_show_list_and_verify(cli, version, model_store_dir):
    code, out = cli("alias", "set", "cli-model", "champion", version.version)
    assert (code, out.strip()) == (EXIT_OK, f"cli-model@champion -> v{version.version} (new)")
    code, out = cli("alias", "set", "cli-model", "challenger", "@champion")
    assert (code, out.strip()) == (EXIT_OK, f"cli-model@challenger -> v{version.version} (new)")
    code, out = cli("show", "cli-model@champion")
    assert code == EXIT_OK
    assert f"models:/cli-model/{version.version}" in out
    assert "accuracy=0.9700" in out
    code, out = cli("list")
    assert code == EXIT_OK and "cli-model" in out
    code, out = cli("verify", "models:/cli-model@champion")
    assert code == EXIT_OK
    files = sum(1 for p in model_store_dir.rglob("*") if p.is_file())
    assert f"cli-model/{version.version}: all {files} files match the registration manifest" in out


def test_verify_exit_code_on_tampering(cli, version, tamperable_store):
    (tamperable_store / "requirements.txt").write_text("evil==1.0\n")
    code, out = cli("verify", version.uri)
    assert code == EXIT_VERIFY_FAILED
    assert f"Model cli-model/{version.version} failed digest verification: requirements.txt sha256 mismatch" in out


def test_errors_are_one_line_and_exit_1(cli, version):
    code, out = cli("show", "cli-model@nobody")
    assert (code, out.strip()) == (EXIT_ERROR, "error: Model 'cli-model' has no alias 'nobody'")
    code, out = cli("show", "not a uri")
    assert code == EXIT_ERROR
    assert out.startswith("error: Invalid model URI 'not a uri'")
    code, out = cli("alias", "delete", "cli-model", "ghost")
    assert (code, out.strip()) == (EXIT_ERROR, "error: Model 'cli-model' has no alias 'ghost'")


def test_unreachable_mlflow_is_one_clear_error(capsys, monkeypatch):
    monkeypatch.setattr("registry.connection.time.sleep", lambda _s: None)
    assert main(["--tracking-uri", "http://127.0.0.1:9", "list"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("error: MLflow at http://127.0.0.1:9 is unreachable after 3 attempts: ")
