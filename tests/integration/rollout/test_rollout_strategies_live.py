"""Blue/green, shadow and A/B rollouts through `python -m rollout` (in-process `main`) on the shared local
cluster, with steady client traffic and short specs written to tmp_path:

- blue/green: the candidate is smoke-checked on mirrored traffic at 0 %, then gets 100 % at once (users never
  saw it before the switch), the alias `champion` moves and the old version stays warm; an `abort` in the warm
  window switches back (exit 1, alias back, version tags 'reverted');
- shadow: users are served only by the champion while the candidate's counters grow from mirrored requests that
  agree 100 % with the live answers (the candidate is the same model); concludes with exit 0, champion unchanged;
- A/B test: a sticky split by `x-user-id` - every user lands on the version the gateway's hash gives it, both
  versions get about half the traffic - that concludes (exit 0) with the significance result.
"""

from __future__ import annotations

import threading
from pathlib import Path

from mlflow import MlflowClient

from cluster.settings import ClusterSettings
from deployments.routing import choose_version, sticky_draw
from deployments.stats import VersionStats
from deployments.traffic_policy import ShadowPolicy, VersionRoute
from rayship.lease import LeaseFile
from registry.api import PinnedVersion, resolve
from registry.catalog import set_alias
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.cli import main
from rollout.core.state_machine import Phase, RolloutState
from rollout.persistence.store import AppliedEvent, RolloutStore

MODEL = "iris-rollout"  # the model the fixtures in conftest.py register
VERDICT_TAG, ROLE_TAG = "rayship.rollout.verdict", "rayship.rollout.role"


def cli_argv(strategy: str, candidate: PinnedVersion, spec: Path, root: Path) -> list[str]:
    return [strategy, "--model", MODEL, "--candidate", candidate.uri, "--spec", str(spec),
            "--state-dir", str(root / "state"), "--reports-dir", str(root / "reports"), "--no-live"]  # fmt: skip


def stored_state(root: Path) -> RolloutState | None:
    stored = RolloutStore(root / "state", MODEL).load()
    return stored.state if stored is not None else None


def actions(root: Path) -> list[tuple[str, int]]:
    return [(event.action, event.candidate_weight) for event in RolloutStore(root / "state", MODEL).events()]


def verdicts(*versions: str) -> list[tuple[str, str]]:
    client = MlflowClient()
    return [
        tuple(client.get_model_version(MODEL, v).tags.get(tag, "") for tag in (VERDICT_TAG, ROLE_TAG)) for v in versions
    ]


def event(root: Path, action: str) -> AppliedEvent:
    return next(e for e in RolloutStore(root / "state", MODEL).events() if e.action == action)


def test_bluegreen_switches_at_once_keeps_the_old_version_warm_and_an_abort_switches_back(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion: PinnedVersion,
    serve_router: ServeRestRouter,
    traffic,
    spec_file,
    wait_for,
    served,
    tmp_path: Path,
    capsys,
) -> None:
    champion, candidate = serve_champion, rollout_versions["good"]
    set_alias(MODEL, "champion", champion.version)
    # Two 2 s smoke-check intervals on 100 % mirrored traffic; the warm window leaves time to look and abort.
    spec = spec_file("bluegreen", interval_s=2, iterations=2, warm_window_s=25)
    exit_codes: list[int] = []
    driver = threading.Thread(target=lambda: exit_codes.append(main(cli_argv("bluegreen", candidate, spec, tmp_path))))
    with traffic(cluster.serve_url) as seen:
        driver.start()
        wait_for(lambda: getattr(stored_state(tmp_path), "phase", None) is Phase.SUCCEEDED, "the switch")

        # In the warm window: every user is on the candidate, the alias moved, the old version's app still runs.
        assert actions(tmp_path) == [("deploy_candidate", 0), ("advance", 0), ("promote", 100)]
        assert event(tmp_path, "advance").effect.shadow == ShadowPolicy(version=candidate.version, percent=100)
        live = serve_router.applied()
        assert live.weights(MODEL) == {champion.version: 0, candidate.version: 100}
        assert live.policy(MODEL).champion == candidate.version
        assert serve_router.app_statuses()[f"{MODEL}-v{champion.version}"] == "RUNNING"
        assert set(served(20)) == {(200, candidate.version)}
        assert resolve(f"models:/{MODEL}@champion").version == candidate.version
        assert verdicts(champion.version, candidate.version) == [("promoted", "champion"), ("promoted", "candidate")]

        holder = LeaseFile(tmp_path / "state", MODEL).read().owner
        capsys.readouterr()
        assert main(["abort", "--model", MODEL, "--state-dir", str(tmp_path / "state")]) == 0
        assert (
            capsys.readouterr().out == f"Abort requested; the running driver '{holder}' acts on it at its next step\n"
        )
        driver.join(timeout=300)

    assert exit_codes == [1]
    final = stored_state(tmp_path)
    assert (final.phase, final.candidate_weight, final.message) == (
        Phase.FAILED,
        0,
        "aborted after promotion: aborted by operator",
    )
    out = capsys.readouterr().out
    assert f"Rollout {final.rollout_id} of '{MODEL}': Failed (aborted after promotion: aborted by operator)\n" in out
    assert actions(tmp_path) == [
        ("deploy_candidate", 0),
        ("advance", 0),
        ("promote", 100),
        ("revert", 0),
        ("remove_version", 0),
    ]
    # Users saw the candidate only from the switch on, and nobody saw a failure.
    switched_at_s = event(tmp_path, "promote").decided_at_s
    assert all(a.version == champion.version for a in seen.log if a.received_at_s < switched_at_s)
    assert seen.failures == []
    live = serve_router.applied()
    assert live.weights(MODEL) == {champion.version: 100}
    assert live.policy(MODEL).champion == champion.version
    assert f"{MODEL}-v{candidate.version}" not in live.app_names()
    assert set(served(20)) == {(200, champion.version)}
    assert resolve(f"models:/{MODEL}@champion").version == champion.version
    assert verdicts(champion.version, candidate.version) == [("reverted", "champion"), ("reverted", "candidate")]


def test_shadow_mirrors_to_the_candidate_serves_only_the_champion_and_concludes(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion: PinnedVersion,
    serve_router: ServeRestRouter,
    traffic,
    spec_file,
    gateway_stats,
    tmp_path: Path,
    capsys,
) -> None:
    champion, candidate = serve_champion, rollout_versions["good"]
    set_alias(MODEL, "champion", champion.version)
    spec = spec_file("shadow", interval_s=2, iterations=3, mirror_percent=100, min_requests=5)
    before = gateway_stats(MODEL).versions.get(candidate.version, VersionStats())
    with traffic(cluster.serve_url) as seen:
        assert main(cli_argv("shadow", candidate, spec, tmp_path)) == 0
    after = gateway_stats(MODEL).versions[candidate.version]

    final = stored_state(tmp_path)
    assert actions(tmp_path) == [("deploy_candidate", 0), ("advance", 0), ("conclude", 0), ("remove_version", 0)]
    assert event(tmp_path, "advance").effect.shadow == ShadowPolicy(version=candidate.version, percent=100)
    # Every user answer came from the champion; the candidate only saw mirrored requests, all of them answered.
    assert seen.failures == []
    assert set(seen.answers) == {(200, champion.version)}
    mirrored = after.requests - before.requests
    assert mirrored >= final.candidate_totals.requests >= 3 * 5  # three conclusive intervals
    assert after.errors == before.errors
    # The candidate is the same model as the champion: every compared row agrees, in the gateway's counters and
    # in the verdict and report over the analysed intervals.
    compared = after.shadow_rows_compared - before.shadow_rows_compared
    assert after.shadow_rows_agreed - before.shadow_rows_agreed == compared
    rows = final.candidate_totals.shadow_rows_compared
    assert 0 < rows <= compared
    agreement = f"agreement with version {champion.version}: 100.0% ({rows}/{rows} rows)"
    message = f"shadow concluded after 3 steps; {agreement}"
    assert (final.phase, final.candidate_weight, final.message) == (Phase.SUCCEEDED, 0, message)
    assert f"Rollout {final.rollout_id} of '{MODEL}': Succeeded ({message})\n" in capsys.readouterr().out
    report = (tmp_path / "reports" / f"{MODEL}-{final.rollout_id}.md").read_text()
    assert f"\nShadow {agreement}.\n" in report
    # The champion is unchanged: alias, policy, and the candidate's app is gone.
    assert resolve(f"models:/{MODEL}@champion").version == champion.version
    assert verdicts(champion.version, candidate.version) == [("concluded", "champion"), ("concluded", "candidate")]
    live = serve_router.applied()
    assert live.weights(MODEL) == {champion.version: 100}
    assert live.policy(MODEL).shadow is None
    assert f"{MODEL}-v{candidate.version}" not in live.app_names()


def test_abtest_splits_sticky_by_user_and_concludes_with_the_significance_result(
    cluster: ClusterSettings,
    rollout_versions: dict,
    serve_champion: PinnedVersion,
    serve_router: ServeRestRouter,
    traffic,
    spec_file,
    tmp_path: Path,
    capsys,
) -> None:
    champion, candidate = serve_champion, rollout_versions["good"]
    set_alias(MODEL, "champion", champion.version)
    spec = spec_file("abtest", interval_s=2, duration_s=8, min_requests=5, warm_window_s=0)
    with traffic(cluster.serve_url, users=40) as seen:
        assert main(cli_argv("abtest", candidate, spec, tmp_path)) == 0

    final = stored_state(tmp_path)
    assert actions(tmp_path) == [("deploy_candidate", 0), ("advance", 50), ("conclude", 0), ("remove_version", 0)]
    assert seen.failures == []
    # While the split was live, each user landed on exactly the version the gateway's sticky hash gives it.
    # From the moment the step counts as applied: the gateway re-reads readiness before it takes a policy that
    # routes to a version it has not seen ready, so no request fails over to the champion in between.
    split_from_s = event(tmp_path, "advance").applied_at_s
    split_until_s = event(tmp_path, "conclude").decided_at_s
    during = [a for a in seen.log if a.sent_at_s >= split_from_s and a.received_at_s <= split_until_s]
    routes = [VersionRoute(version=v, app=f"{MODEL}-v{v}", weight=50) for v in (champion.version, candidate.version)]
    seen_by_user: dict[str, set[str]] = {}
    for answer in during:
        seen_by_user.setdefault(answer.user, set()).add(answer.version)
    expected = {user: {choose_version(routes, sticky_draw(f"{MODEL}\x00{user}"))} for user in seen_by_user}
    assert len(seen_by_user) == 40
    assert min(sum(a.user == user for a in during) for user in seen_by_user) >= 2
    assert seen_by_user == expected
    # Both versions got about half of the requests.
    candidate_share = sum(a.version == candidate.version for a in during) / len(during)
    assert 0.35 <= candidate_share <= 0.65, candidate_share
    totals = final.candidate_totals.requests / (final.candidate_totals.requests + final.champion_totals.requests)
    assert 0.35 <= totals <= 0.65, totals
    # The conclusion carries the significance test of the whole test's error rates.
    message = (
        f"abtest concluded after 4 steps; candidate error rate 0/{final.candidate_totals.requests} vs champion "
        f"0/{final.champion_totals.requests}: not significantly lower (one-sided z-test p=1, alpha=0.05)"
    )
    assert (final.phase, final.candidate_weight, final.message) == (Phase.SUCCEEDED, 0, message)
    assert f"Rollout {final.rollout_id} of '{MODEL}': Succeeded ({message})\n" in capsys.readouterr().out
    assert resolve(f"models:/{MODEL}@champion").version == champion.version
    assert serve_router.applied().weights(MODEL) == {champion.version: 100}
