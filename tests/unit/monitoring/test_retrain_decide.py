import re

import pytest

from monitoring.retrain.cycle import AlertRef, Cycle
from monitoring.retrain.decide import FiringAlert, choose, cycle_id
from monitoring.spec import RetrainSpec

SPEC = RetrainSpec(training_spec="configs/training/iris-sklearn.yaml", hold_s=30, cooldown_s=600)
T0 = 1_800_000_000.0


def firing(name="RayshipFeatureDriftHigh", version="3", active_at_s=T0, state="firing", model="iris"):
    labels = {"alertname": name, "model": model, "version": version, "severity": "warning"}
    return FiringAlert(name=name, state=state, labels=labels, active_at_s=active_at_s, value=0.6)


def cycle(alert: FiringAlert, started_at_s: float, stage="done") -> Cycle:
    ref = AlertRef(name=alert.name, model="iris", version=alert.labels["version"], active_at_s=alert.active_at_s)
    return Cycle(id=cycle_id(ref), alert=ref, stage=stage, started_at_s=started_at_s, job_runner="test")


def test_an_alert_held_long_enough_on_the_champion_starts_a_cycle():
    choice = choose([firing()], SPEC, "iris", "3", [], now_s=T0 + 30)
    assert choice.action == "submit"
    assert choice.reason == "RayshipFeatureDriftHigh fired on v3"
    assert choice.alert.version == "3" and choice.alert.value == 0.6
    assert choice.cycle_id == cycle_id(choice.alert)


def test_the_same_alert_window_gets_the_same_id_and_a_new_window_a_new_one():
    first = choose([firing()], SPEC, "iris", "3", [], now_s=T0 + 60).cycle_id
    again = choose([firing()], SPEC, "iris", "3", [], now_s=T0 + 90).cycle_id
    later = choose([firing(active_at_s=T0 + 5)], SPEC, "iris", "3", [], now_s=T0 + 90).cycle_id
    assert first == again != later
    assert re.fullmatch(r"retrain-iris-[0-9a-f]{12}", first)


def test_ids_are_dns_labels_whatever_the_model_is_called():
    ref = AlertRef(name="RayshipFeatureDriftHigh", model="Fraud_Model.v2", version="1", active_at_s=T0)
    assert re.fullmatch(r"retrain-fraud-model-v2-[0-9a-f]{12}", cycle_id(ref))


@pytest.mark.parametrize(
    "alert",
    [
        firing(version="2"),  # not the champion
        firing(state="pending"),  # Prometheus' for: has not passed
        firing(name="RayshipErrorRateHigh"),  # not a retraining alert
        firing(model="wine"),
    ],
)
def test_alerts_that_do_not_answer_leave_the_trigger_idle(alert):
    choice = choose([alert], SPEC, "iris", "3", [], now_s=T0 + 60)
    assert choice.action == "idle"
    assert choice.reason == "no RayshipFeatureDriftHigh/RayshipPredictionDriftHigh alert is firing on v3"


def test_without_a_champion_any_version_counts():
    assert choose([firing(version="2")], SPEC, "iris", None, [], now_s=T0 + 60).action == "submit"


def test_an_alert_younger_than_the_hold_waits():
    choice = choose([firing()], SPEC, "iris", "3", [], now_s=T0 + 10)
    assert (choice.action, choice.reason) == ("wait", "RayshipFeatureDriftHigh has fired for 10 s of the 30 s hold")


def test_a_window_that_had_its_retraining_does_not_retrain_again():
    alert = firing()
    choice = choose([alert], SPEC, "iris", "3", [cycle(alert, T0)], now_s=T0 + 7200)
    assert (choice.action, choice.reason) == ("idle", "the firing alert windows already had their retraining")


def test_a_new_window_inside_the_cooldown_waits_whatever_the_last_outcome():
    old = firing(active_at_s=T0 - 900)
    new = firing(active_at_s=T0)
    choice = choose([new], SPEC, "iris", "3", [cycle(old, T0 - 100, stage="failed")], now_s=T0 + 60)
    assert (choice.action, choice.reason) == (
        "wait",
        "RayshipFeatureDriftHigh is firing; cooldown holds for 440 s more",
    )
    assert choose([new], SPEC, "iris", "3", [cycle(old, T0 - 100)], now_s=T0 + 500).action == "submit"


def test_an_open_cycle_is_resumed_before_anything_else():
    alert = firing()
    open_cycle = cycle(alert, T0, stage="running")
    choice = choose([firing(active_at_s=T0 + 1)], SPEC, "iris", "3", [open_cycle], now_s=T0 + 9999)
    assert (choice.action, choice.cycle_id) == ("resume", open_cycle.id)
    assert choice.reason == f"cycle {open_cycle.id} is running"


def test_the_oldest_of_several_firing_windows_goes_first():
    alerts = [firing(name="RayshipPredictionDriftHigh", active_at_s=T0 - 5), firing(active_at_s=T0)]
    assert choose(alerts, SPEC, "iris", "3", [], now_s=T0 + 60).alert.name == "RayshipPredictionDriftHigh"
