import signal
import subprocess
import sys
import time

import yaml

from training.tracking import PARENT_TAG

READY_DEADLINE_S = 300  # generous: on a shared 2-core machine a trial process can take a minute to start


def _wait_for_trial_run(client, experiment_name: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline and process.poll() is None:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{PARENT_TAG}` != ''")
            if runs:
                return
        time.sleep(1)
    raise AssertionError(f"no trial run appeared in experiment {experiment_name} (sweep exit {process.poll()})")


def test_interrupted_sweep_registers_nothing_and_kills_its_runs(cluster, mlflow_client, tiny_spec, tmp_path):
    spec = tiny_spec("iris-sklearn.yaml", num_samples=40)
    config = tmp_path / "spec.yaml"
    config.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    process = subprocess.Popen(
        [sys.executable, "-m", "training", "sweep", "--config", str(config), "--register", "--alias", "champion"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_trial_run(mlflow_client, spec.experiment, process)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert f"Sweep '{spec.experiment}' was interrupted" in output

    experiment = mlflow_client.get_experiment_by_name(spec.experiment)
    runs = mlflow_client.search_runs([experiment.experiment_id])
    sweep_runs = [r for r in runs if PARENT_TAG not in r.data.tags]
    trial_runs = [r for r in runs if PARENT_TAG in r.data.tags]
    assert [r.info.status for r in sweep_runs] == ["KILLED"]
    assert trial_runs and all(r.info.status in ("KILLED", "FINISHED") for r in trial_runs)
    assert any(r.info.status == "KILLED" for r in trial_runs) or len(trial_runs) < spec.num_samples
    assert mlflow_client.search_registered_models(f"name = '{spec.model_name}'") == []
