from pathlib import Path

import pytest

from monitoring.errors import MonitorSpecError
from monitoring.retrain.run import REPO_ROOT, check_training_spec
from monitoring.spec import MonitorSpec, load_spec


def test_the_shipped_iris_spec_retrains_into_iris():
    spec = load_spec(REPO_ROOT / "configs" / "monitoring" / "iris.yaml")
    assert check_training_spec(spec) == REPO_ROOT / "configs" / "training" / "iris-sklearn.yaml"


def test_a_sweep_spec_of_another_model_is_refused_before_any_job(tmp_path: Path):
    sweep = tmp_path / "wine.yaml"
    sweep.write_text("model_name: wine\n")
    spec = MonitorSpec.model_validate({"model": "iris", "retrain": {"training_spec": str(sweep)}})
    with pytest.raises(MonitorSpecError) as refused:
        check_training_spec(spec)
    assert str(refused.value) == (
        f"Monitoring spec 'retrain.training_spec {sweep}' is invalid: registers into model 'wine', not 'iris'"
    )


def test_a_missing_sweep_spec_is_named(tmp_path: Path):
    spec = MonitorSpec.model_validate({"model": "iris", "retrain": {"training_spec": str(tmp_path / "none.yaml")}})
    with pytest.raises(MonitorSpecError, match=r"retrain.training_spec .*none.yaml' is invalid: cannot be read"):
        check_training_spec(spec)


def test_a_second_trigger_for_the_same_model_is_refused_by_the_lease(tmp_path: Path, capsys):
    import time

    from monitoring import cli
    from rayship.lease import LeaseFile, local_owner_id

    holder = local_owner_id("first")  # this very process: alive, so its lease holds
    LeaseFile(tmp_path / "retrain", "iris", purpose="retraining").acquire(holder, 60, time.time())

    assert cli.main(["watch", "--model", "iris", "--state-dir", str(tmp_path), "--max-polls", "1"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"refused: Retraining of model 'iris' is driven by '{holder}' (lease expires in ")
    assert err.rstrip().endswith("stop that driver or wait for its lease to expire")
