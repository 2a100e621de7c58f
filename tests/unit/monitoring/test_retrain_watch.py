"""The trigger's loop against a real MLflow registry (a sqlite store, no server) and an in-memory job runner:
the runner stands in for the Ray Jobs API here; tests/integration/monitoring runs the loop on a live cluster."""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from monitoring.errors import JobRunnerUnavailableError, PrometheusUnreachableError
from monitoring.retrain.decide import FiringAlert
from monitoring.retrain.jobs import JobRequest, JobView
from monitoring.retrain.lineage import load_cycles
from monitoring.retrain.watch import Watch, training_argv
from monitoring.spec import RetrainSpec
from registry import tags

T0 = 1_800_000_000.0
SPEC = RetrainSpec(
    training_spec="configs/training/iris-sklearn.yaml",
    data="fresh/iris.csv",
    cooldown_s=600,
    auto_rollout="canary",
)


class Jobs:
    where = "test jobs"

    def __init__(self) -> None:
        self.requests: list[JobRequest] = []
        self.states: dict[str, str] = {}
        self.down = False

    def submit(self, request: JobRequest) -> bool:
        if self.down:
            raise JobRunnerUnavailableError(self.where, "connection refused")
        self.requests.append(request)
        if request.submission_id in self.states:
            return False
        self.states[request.submission_id] = "PENDING"
        return True

    def view(self, submission_id: str) -> JobView:
        if self.down:
            raise JobRunnerUnavailableError(self.where, "connection refused")
        return JobView(submission_id=submission_id, state=self.states[submission_id], message=None)


class Canary:
    def __init__(self) -> None:
        self.exit_code: int | None = None

    def poll(self) -> int | None:
        return self.exit_code


class Clock:
    def __init__(self) -> None:
        self.now = T0 + 60

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("iris")
    client.create_model_version("iris", "file:///models/1", tags={tags.GATE: "off"})
    client.set_registered_model_alias("iris", "champion", "1")
    return client


@pytest.fixture
def rig(client):
    jobs, clock, said, canaries, drivers = Jobs(), Clock(), [], [], []
    alerts: list[FiringAlert] = []

    def read_alerts():
        if alerts == ["down"]:
            raise PrometheusUnreachableError("http://prom:9090", "connection refused")
        return list(alerts)

    def start_canary(version: str) -> Canary:
        canaries.append(version)
        drivers.append(Canary())
        return drivers[-1]

    def make() -> Watch:
        return Watch(
            model="iris",
            spec=SPEC,
            runner=jobs,
            client=client,
            read_alerts=read_alerts,
            start_canary=start_canary,
            training_argv=training_argv(SPEC, Path("/repo"), python="python"),
            clock=clock,
            say=said.append,
        )

    class Rig:
        pass

    rig = Rig()
    rig.jobs, rig.clock, rig.said, rig.canaries, rig.drivers, rig.alerts, rig.make, rig.client = (
        jobs, clock, said, canaries, drivers, alerts, make, client
    )  # fmt: skip
    return rig


def drift_on(version: str) -> FiringAlert:
    labels = {"alertname": "RayshipFeatureDriftHigh", "model": "iris", "version": version}
    return FiringAlert(name="RayshipFeatureDriftHigh", state="firing", labels=labels, active_at_s=T0, value=0.61)


def job_ended(rig, state: str):
    """A drift alert on the champion, its cycle's job submitted, and the job ended in `state`."""
    rig.alerts.append(drift_on("1"))
    watch = rig.make()
    cycle = watch.poll()
    rig.jobs.states[cycle.id] = state
    return watch, cycle


def register_retrained(client: MlflowClient, cycle_id: str, gate: str) -> str:
    version = client.create_model_version(
        "iris", "file:///models/2", tags={tags.RETRAINED_BY: cycle_id, tags.GATE: gate, tags.GATE_REASONS: "why"}
    )
    return str(version.version)


def test_an_alert_retrains_registers_and_canaries_to_a_verdict_recorded_in_the_registry(rig):
    rig.alerts.append(drift_on("1"))
    watch = rig.make()

    cycle = watch.poll()
    (request,) = rig.jobs.requests
    assert request.submission_id == cycle.id and cycle.stage == "running"
    assert request.entrypoint == [
        "python", "-m", "training", "sweep", "--config", "/repo/configs/training/iris-sklearn.yaml", "--register",
        "--tag", f"rayship.retrained_by={cycle.id}", "--data", "/repo/fresh/iris.csv",
    ]  # fmt: skip
    assert request.metadata == {"model": "iris", "alert": "RayshipFeatureDriftHigh", "version": "1"}

    rig.jobs.states[cycle.id] = "RUNNING"
    assert watch.poll().job_state == "RUNNING"
    rig.jobs.states[cycle.id] = "SUCCEEDED"
    version = register_retrained(rig.client, cycle.id, "passed")
    cycle = watch.poll()
    assert (cycle.stage, cycle.version, cycle.gate_passed, rig.canaries) == ("rolling_out", version, True, [version])

    assert watch.poll().stage == "rolling_out"  # no verdict yet: the canary runs
    rig.client.set_model_version_tag("iris", version, tags.ROLLOUT_VERDICT, "promoted")
    rig.client.set_model_version_tag("iris", version, tags.ROLLOUT_ID, "r-42")
    cycle = watch.poll()

    assert (cycle.stage, cycle.outcome, cycle.rollout_id) == ("done", "promoted", "r-42")
    assert [step.step for step in cycle.steps] == [
        "alert", "submitted", "job", "job", "registered", "gate", "rollout", "verdict",
    ]  # fmt: skip
    assert cycle.steps[0].detail == "RayshipFeatureDriftHigh on iris v1 (value 0.610)"
    assert cycle.steps[-1].detail == "canary r-42: promoted"
    assert load_cycles(rig.client, "iris") == [cycle]
    assert len(rig.jobs.requests) == 1 and rig.canaries == [version]


def test_a_failed_job_registers_nothing_and_the_cooldown_holds_while_the_alert_stays(rig):
    watch, cycle = job_ended(rig, "FAILED")

    cycle = watch.poll()
    assert (cycle.stage, cycle.outcome, cycle.version) == ("failed", "job_failed", None)
    assert cycle.steps[-1].detail == "the job failed: no version"
    rig.alerts[0] = drift_on("1").model_copy(update={"active_at_s": T0 + 30})  # the condition fires anew
    rig.clock.now += 60
    assert watch.poll() is None
    assert rig.said[-1] == "wait: RayshipFeatureDriftHigh is firing; cooldown holds for 540 s more"
    assert len(rig.jobs.requests) == 1


def test_a_version_that_fails_the_gate_is_not_rolled_out(rig):
    watch, cycle = job_ended(rig, "SUCCEEDED")
    register_retrained(rig.client, cycle.id, "failed")

    cycle = watch.poll()
    assert (cycle.stage, cycle.outcome, cycle.gate_passed) == ("done", "gate_failed", False)
    assert cycle.steps[-2].detail == "failed: why"
    assert rig.canaries == []


def test_a_job_that_registered_no_version_is_a_failure(rig):
    watch, _ = job_ended(rig, "SUCCEEDED")
    cycle = watch.poll()
    assert (cycle.stage, cycle.outcome) == ("failed", "no_version")


def test_prometheus_down_makes_the_trigger_wait_and_say_so_once(rig):
    rig.alerts.append("down")
    watch = rig.make()
    assert watch.poll() is None and watch.poll() is None
    assert rig.said == ["waiting: Cannot read alerts from Prometheus at http://prom:9090: connection refused"]
    assert load_cycles(rig.client, "iris") == []


def test_a_restarted_trigger_resumes_the_open_cycle_without_a_second_job(rig):
    rig.alerts.append(drift_on("1"))
    first = rig.make().poll()
    rig.jobs.down = True  # and the trigger dies; its successor cannot reach the Jobs API at first
    second = rig.make()
    assert second.poll() is None  # waiting for the Jobs API
    assert rig.said[-1] == "waiting: Cannot reach test jobs: connection refused"
    rig.jobs.down = False
    rig.jobs.states[first.id] = "SUCCEEDED"
    version = register_retrained(rig.client, first.id, "passed")
    assert second.poll().stage == "rolling_out"

    third = rig.make()  # dies again mid-canary: the successor starts a driver (the old one's lease would refuse it)
    assert third.poll().stage == "rolling_out"
    assert rig.canaries == [version, version]
    assert len(rig.jobs.requests) == 1


def test_a_cycle_recorded_before_its_submission_resubmits_under_the_same_id(rig):
    rig.alerts.append(drift_on("1"))
    rig.jobs.down = True
    watch = rig.make()
    assert watch.poll() is None
    (cycle,) = load_cycles(rig.client, "iris")
    assert cycle.stage == "submitting"
    assert rig.said[-1] == "waiting: Cannot reach test jobs: connection refused"
    rig.jobs.down = False
    assert watch.poll().stage == "running"
    assert [r.submission_id for r in rig.jobs.requests] == [cycle.id]


def rolling_out(rig):
    """A cycle whose retrained version passed the gate and whose canary driver runs."""
    watch, cycle = job_ended(rig, "SUCCEEDED")
    register_retrained(rig.client, cycle.id, "passed")
    assert watch.poll().stage == "rolling_out"
    return watch


def test_a_canary_refused_for_its_input_ends_the_cycle_without_a_rollout(rig):
    watch = rolling_out(rig)
    rig.drivers[-1].exit_code = 2
    cycle = watch.poll()
    assert (cycle.stage, cycle.outcome) == ("failed", "not_rolled_out")
    assert cycle.steps[-1].detail == "the canary driver refused its input (exit 2): not rolled out; see its log"


def test_a_refused_canary_driver_is_retried_after_a_pause_not_every_poll(rig):
    watch = rolling_out(rig)
    rig.drivers[-1].exit_code = 3  # another driver holds the lease, or the cluster did not answer
    rig.clock.now += 10
    assert watch.poll().stage == "rolling_out" and len(rig.drivers) == 1
    rig.clock.now += 25
    assert watch.poll().stage == "rolling_out" and len(rig.drivers) == 2


def test_a_driver_that_decided_without_writing_its_tag_still_ends_the_cycle(rig):
    watch = rolling_out(rig)
    rig.drivers[-1].exit_code = 0
    cycle = watch.poll()
    assert (cycle.stage, cycle.outcome, cycle.rollout_id) == ("done", "promoted", None)
    assert cycle.steps[-1].detail == "canary (id not recorded): promoted"
