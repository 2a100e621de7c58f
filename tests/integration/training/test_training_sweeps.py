import mlflow
import numpy as np
import pytest

from registry import tags as tag_names
from registry.api import download_verified, resolve
from registry.manifest import decode_manifest
from registry.model_facts import read_model_facts
from tests.integration.sweeps import FRAMEWORK_CONFIGS, WINNER_ALIAS
from training.datasets import load_table
from training.tracking import EARLY_STOPPED_TAG, PARENT_TAG


@pytest.mark.parametrize("flavor", list(FRAMEWORK_CONFIGS))
def test_sweep_logs_nested_runs_and_registers_a_verified_version(
    cluster, mlflow_client, framework_winner, tmp_path, flavor
):
    winner = framework_winner(flavor)  # the session's sweep of FRAMEWORK_CONFIGS[flavor], shared with serving tests
    spec, outcome = winner.spec, winner.outcome

    sweep_run = mlflow_client.get_run(outcome.sweep_run_id)
    assert sweep_run.info.status == "FINISHED"
    assert sweep_run.data.tags[tag_names.SWEEP_ID] == outcome.sweep_run_id
    assert sweep_run.data.tags["rayship.best_trial_id"] == outcome.best_trial_id
    assert sweep_run.inputs.dataset_inputs[0].dataset.name == spec.dataset.label

    trials = mlflow_client.search_runs(
        [sweep_run.info.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{outcome.sweep_run_id}'"
    )
    assert len(trials) == spec.num_samples
    for trial in trials:
        assert trial.info.status == "FINISHED"
        if spec.scheduler.type == "fifo":  # nothing stops a FIFO trial early
            assert EARLY_STOPPED_TAG not in trial.data.tags
        assert set(spec.search_space) <= set(trial.data.params)
        assert trial.data.tags[tag_names.DATASET_FINGERPRINT] == sweep_run.data.tags[tag_names.DATASET_FINGERPRINT]
        assert trial.data.tags[tag_names.TRIAL_ID]
        assert len(mlflow_client.get_metric_history(trial.info.run_id, f"valid_{spec.metric}")) >= 1

    registration = outcome.registration
    assert registration.pinned == resolve(f"{spec.model_name}@{WINNER_ALIAS}")
    version = mlflow_client.get_model_version(spec.model_name, registration.pinned.version)
    assert version.tags[tag_names.SWEEP_ID] == outcome.sweep_run_id
    assert version.tags[tag_names.TRIAL_ID] == outcome.best_trial_id
    assert version.tags[tag_names.DATASET_FINGERPRINT] == sweep_run.data.tags[tag_names.DATASET_FINGERPRINT]
    assert float(version.tags[tag_names.metric_tag(spec.metric)]) == outcome.winner.test_scores[spec.metric]
    assert version.tags[tag_names.GATE] == "passed"
    assert "MLmodel" in decode_manifest(version.tags[tag_names.MANIFEST])

    model_dir = download_verified(registration.pinned, tmp_path / "models")
    facts = read_model_facts(model_dir)
    assert facts.flavor == flavor
    assert facts.input_names and facts.classes
    native = getattr(mlflow, flavor).load_model(str(model_dir))
    assert native is not None
    features = load_table(spec.dataset).features.head(5)
    predictions = np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(features))
    assert predictions.shape[0] == 5
    if flavor == "pytorch":
        assert np.allclose(predictions.sum(axis=1), 1.0, atol=1e-4)
    else:
        assert facts.has_predict_proba and hasattr(native, "predict_proba")


def test_gate_keeps_the_alias_on_the_champion_when_the_candidate_is_not_better(
    cluster, mlflow_client, tiny_spec, sweep
):
    first_spec = tiny_spec("iris-sklearn.yaml")
    first = sweep(first_spec, "champion").registration
    assert first.gate.passed
    demanding = first_spec.gate.model_copy(update={"margin": 0.5})
    second = sweep(first_spec.model_copy(update={"gate": demanding}), "champion").registration
    assert second.gate.passed is False
    assert second.alias is None
    assert resolve(f"{first_spec.model_name}@champion") == first.pinned
    tags = mlflow_client.get_model_version(first_spec.model_name, second.pinned.version).tags
    assert tags[tag_names.GATE] == "failed"
    assert tags[tag_names.GATE_REASONS].startswith("accuracy ")
    assert f"does not beat champion {first.pinned} (" in tags[tag_names.GATE_REASONS]
    assert tags[tag_names.GATE_REASONS].endswith("by margin 0.5000")
