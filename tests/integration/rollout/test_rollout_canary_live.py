"""Canary rollouts end to end on the shared local cluster: the real gateway and version apps, the real MLflow
registry, the Serve REST router and the gateway's stats endpoint, with steady client traffic throughout.

- a good candidate walks 20/40/60/80 % and is promoted; no client request fails;
- a candidate that deploys fine but fails on real input (HTTP 500) is rolled back from its first step, and
  with failover on no client sees a failure;
- a candidate whose app cannot start is aborted before it gets any traffic; the champion is untouched;
- a candidate that is healthy and answers every request with 200 but wrongly (trained on shuffled class names) is
  rolled back by the accuracy check, from the labels the traffic posts back.
"""

from __future__ import annotations

from pathlib import Path

from cluster.settings import ClusterSettings
from rayship.lease import LeaseFile
from rollout.adapters.metrics_source import GatewayStatsSource
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.clock import SystemClock
from rollout.core.state_machine import Phase
from rollout.driver import RolloutDriver
from rollout.persistence.history import ProgressLog
from rollout.persistence.store import RolloutStore
from rollout.presentation.report import write_report
from rollout.spec_file import load_spec

MODEL = "iris-rollout"  # the model the fixtures in conftest.py register
SPEC = load_spec(Path(__file__).resolve().parents[3] / "configs" / "rollouts" / "canary.yaml").model_copy(
    update={"warm_window_s": 2.0}
)


def drive(
    cluster: ClusterSettings, token: str, router: ServeRestRouter, root: Path, candidate: str
) -> tuple[RolloutDriver, ProgressLog]:
    history = ProgressLog(root, MODEL)
    driver = RolloutDriver(
        model=MODEL,
        spec=SPEC,
        router=router,
        metrics=GatewayStatsSource(cluster.serve_url, token),
        store=RolloutStore(root, MODEL),
        lease=LeaseFile(root, MODEL),
        clock=SystemClock(),
        owner="integration-test",
        on_progress=history.append,
    )
    return driver, history


def test_a_good_candidate_is_promoted_with_no_failed_request(
    cluster: ClusterSettings,
    token: str,
    serve_router: ServeRestRouter,
    rollout_versions: dict,
    serve_champion,
    traffic,
    tmp_path: Path,
) -> None:
    champion, good = serve_champion, rollout_versions["good"]
    driver, history = drive(cluster, token, serve_router, tmp_path, good.version)
    with traffic(cluster.serve_url) as seen:
        final = driver.run(good.version)

    assert (final.phase, final.candidate_weight) == (Phase.SUCCEEDED, 100)
    assert seen.failures == []
    assert {status for status, _ in seen.answers} == {200}
    assert seen.answers[(200, good.version)] > 0
    events = RolloutStore(tmp_path, MODEL).events()
    assert [(event.action, event.candidate_weight) for event in events] == [
        ("deploy_candidate", 0),
        ("advance", 20),
        ("advance", 40),
        ("advance", 60),
        ("advance", 80),
        ("promote", 100),
        ("remove_version", 100),
    ]
    live = serve_router.applied()
    assert live.weights(MODEL) == {good.version: 100}
    assert live.policy(MODEL).champion == good.version
    assert f"{MODEL}-v{champion.version}" not in live.app_names()
    files = write_report(tmp_path / "reports", history.read(final.rollout_id), events)
    assert files.markdown.read_text().startswith(f"# Rollout {final.rollout_id}: {MODEL} {champion.version} -> ")


def test_a_candidate_failing_on_real_input_is_rolled_back_and_failover_hides_it(
    cluster: ClusterSettings,
    token: str,
    serve_router: ServeRestRouter,
    rollout_versions: dict,
    serve_champion,
    traffic,
    tmp_path: Path,
) -> None:
    champion, broken = serve_champion, rollout_versions["broken"]
    driver, history = drive(cluster, token, serve_router, tmp_path, broken.version)
    with traffic(cluster.serve_url) as seen:
        final = driver.run(broken.version)

    assert (final.phase, final.candidate_weight, final.failed_checks) == (Phase.FAILED, 0, SPEC.threshold)
    events = RolloutStore(tmp_path, MODEL).events()
    assert [(event.action, event.candidate_weight) for event in events] == [
        ("deploy_candidate", 0),
        ("advance", 20),
        ("rollback", 0),
        ("remove_version", 0),
    ]
    assert seen.failures == []  # failover retried every failed candidate request on the champion
    assert set(seen.answers) == {(200, champion.version)}
    live = serve_router.applied()
    assert live.weights(MODEL) == {champion.version: 100}
    assert f"{MODEL}-v{broken.version}" not in live.app_names()
    analysed = [record for record in history.read(final.rollout_id) if record.checks]
    assert any(not check.passed and check.name == "candidate_error_rate" for check in analysed[-1].checks)
    rollback, first_weight = events[2], events[1]
    seconds = rollback.applied_at_s - first_weight.applied_at_s
    print(f"fault onset (first candidate weight) -> weight 0: {seconds:.1f} s")


def test_a_candidate_that_cannot_start_is_aborted_and_the_champion_untouched(
    cluster: ClusterSettings,
    token: str,
    serve_router: ServeRestRouter,
    serve_champion,
    traffic,
    tmp_path: Path,
) -> None:
    champion = serve_champion
    missing = "99999"  # no such registered version: its replicas fail while loading
    driver, _ = drive(cluster, token, serve_router, tmp_path, missing)
    with traffic(cluster.serve_url) as seen:
        final = driver.run(missing)

    assert (final.phase, final.message) == (Phase.FAILED, f"aborted: version {missing} failed to start")
    events = RolloutStore(tmp_path, MODEL).events()
    assert [event.action for event in events] == ["deploy_candidate", "rollback", "remove_version"]
    assert events[0].error.startswith(f"Application '{MODEL}-v{missing}' did not start: DEPLOY_FAILED")
    assert seen.failures == []
    live = serve_router.applied()
    assert live.weights(MODEL) == {champion.version: 100}
    assert live.app_names() == ["gateway", f"{MODEL}-v{champion.version}"]


def test_a_candidate_wrong_with_http_200_is_rolled_back_on_live_accuracy(
    cluster: ClusterSettings,
    token: str,
    serve_router: ServeRestRouter,
    rollout_versions: dict,
    serve_champion,
    traffic,
    tmp_path: Path,
) -> None:
    champion, wrong = serve_champion, rollout_versions["mislabelled"]
    driver, history = drive(cluster, token, serve_router, tmp_path, wrong.version)
    with traffic(cluster.serve_url, labels=True) as seen:
        final = driver.run(wrong.version)

    assert (final.phase, final.candidate_weight) == (Phase.FAILED, 0), final.message
    assert seen.failures == [] and seen.answers[(200, wrong.version)] > 0  # healthy by every HTTP measure
    assert seen.labelled > 0
    assert serve_router.applied().weights(MODEL) == {champion.version: 100}
    analysed = [record for record in history.read(final.rollout_id) if record.checks]
    failed = {check.name for record in analysed for check in record.checks if not check.passed}
    assert failed == {"accuracy_vs_champion"}, [check for record in analysed for check in record.checks]
    files = write_report(tmp_path / "reports", history.read(final.rollout_id), RolloutStore(tmp_path, MODEL).events())
    assert "Accuracy check against the champion" in files.markdown.read_text()
