import argparse
import json
from pathlib import Path

import pytest

from registry.api import PinnedVersion
from training.cli import main, parse_tag
from training.gate import GateDecision
from training.promote import Registration, registration_tags
from training.spec import DatasetSpec, TableSpec, load_spec
from training.sweep import SweepOutcome
from training.tracking import TrackingContext


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


IRIS = "configs/training/iris-sklearn.yaml"


@pytest.fixture
def sweeps(monkeypatch):
    """Replaces the sweep: records what the CLI asked for and answers with a registered, gated outcome."""
    calls = []

    def fake_run_sweep(spec, **kwargs):
        calls.append({"spec": spec, **kwargs})
        return SweepOutcome(
            experiment=spec.experiment,
            sweep_run_id="run-1",
            trials=1,
            failed_trials=0,
            best_trial_id="t1",
            best_valid_score=0.9,
            trial_durations_s=[1.0],
            tune_wall_s=1.0,
            startup_s=0.5,
            registration=Registration(
                pinned=PinnedVersion(name=spec.model_name, version="7"),
                gate=GateDecision(passed=True, reasons=["no champion to compare with; accuracy 0.9000"]),
                alias=None,
            ),
        )

    monkeypatch.setattr("training.cli.run_sweep", fake_run_sweep)
    return calls


def test_data_path_replaces_the_dataset_and_tags_reach_the_sweep(sweeps, capsys):
    argv = ["sweep", "--config", IRIS, "--data", "fresh.csv", "--register", "--json"]
    code = main([*argv, "--tag", "rayship.retrain.cycle=raysubmit_42", "--tag", "note=a=b"])
    assert code == 0
    (call,) = sweeps
    assert call["spec"].dataset == DatasetSpec(path=Path("fresh.csv"), target="target")
    assert call["version_tags"] == {"rayship.retrain.cycle": "raysubmit_42", "note": "a=b"}
    outcome = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outcome["registration"]["pinned"]["version"] == "7"
    assert outcome["registration"]["gate"]["passed"] is True
    assert outcome["registration"]["gate"]["reasons"] == ["no champion to compare with; accuracy 0.9000"]
    assert outcome["sweep_run_id"] == "run-1"


def test_data_url_hash_table_with_its_target(sweeps):
    assert main(["sweep", "--config", IRIS, "--data", "sqlite:////abs/fresh.db#iris_fresh", "--data-target", "y"]) == 0
    assert sweeps[0]["spec"].dataset == DatasetSpec(
        table=TableSpec(url="sqlite:////abs/fresh.db", name="iris_fresh"), target="y"
    )
    assert sweeps[0]["version_tags"] == {}


def test_bad_data_source_is_exit_1_with_the_error(sweeps, capsys):
    assert main(["sweep", "--config", IRIS, "--data", "fresh.txt"]) == 1
    assert capsys.readouterr().err == (
        "error: Invalid dataset source fresh.txt: dataset: Value error, path 'fresh.txt' must end in .csv or .parquet\n"
    )
    assert sweeps == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data-target", "y"], "--data-target needs --data"),
        (["--tag", "a=b"], "--tag needs --register"),
        (
            ["--register", "--tag", "cycle"],
            "argument --tag: 'cycle' is not KEY=VALUE with a KEY of letters, digits and _ . : - (at most 250 "
            "characters)",
        ),
        (
            ["--register", "--tag", "=v"],
            "argument --tag: '=v' is not KEY=VALUE with a KEY of letters, digits and _ . : - (at most 250 characters)",
        ),
        (["--register", "--tag", "a=1", "--tag", "a=2"], "--tag a is given twice"),
        (["--register", "--tag", "rayship.gate=passed"], "--tag rayship.gate: rayship sets this tag itself"),
        (
            ["--register", "--tag", "rayship.metric.accuracy=1"],
            "--tag rayship.metric.accuracy: rayship sets this tag itself",
        ),
    ],
)
def test_argument_errors_exit_2_naming_the_problem(sweeps, capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--config", IRIS, *extra])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f": error: {message}")
    assert sweeps == []


def test_parse_tag_keeps_everything_after_the_first_equals():
    assert parse_tag("k=") == ("k", "")
    assert parse_tag("rayship.retrain.cycle=raysubmit_X=1") == ("rayship.retrain.cycle", "raysubmit_X=1")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_tag("a b=c")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_tag("k" * 251 + "=v")


def test_callers_tags_never_overwrite_rayships_own():
    spec = load_spec(Path(IRIS))
    tracking = TrackingContext(tracking_uri=None, dataset_sha256="d" * 64, git_commit="abc")
    decision = GateDecision(passed=False, reasons=["worse"])
    version_tags = registration_tags(
        spec, tracking, decision, {"rayship.flavor": "x", "rayship.gate": "passed", "k": "v"}
    )
    assert version_tags == {
        "k": "v",
        "rayship.flavor": "sklearn",
        "rayship.git_commit": "abc",
        "rayship.gate": "failed",
        "rayship.gate_reasons": "worse",
    }
