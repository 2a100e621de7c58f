import pytest

from training.cli import main


def test_alias_needs_register(capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--config", "configs/training/iris-sklearn.yaml", "--alias", "challenger"])
    assert info.value.code == 2
    assert "--alias needs --register" in capsys.readouterr().err


def test_bad_spec_file_is_one_clear_error(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("experiment: x\nmodel_name: y\n")
    assert main(["sweep", "--config", str(spec)]) == 1
    assert capsys.readouterr().err.startswith(f"error: Invalid sweep spec {spec}: dataset: Field required;")


def test_invalid_alias_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("training.sweep.load_table", lambda spec: pytest.fail("must not load data"))
    code = main(["sweep", "--config", "configs/training/iris-sklearn.yaml", "--register", "--alias", "latest"])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: Invalid alias 'latest'")
