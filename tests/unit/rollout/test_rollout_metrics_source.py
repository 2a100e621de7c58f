"""From the gateway's stats and monitoring JSON to rollout observations (HTTP through httpx's in-process
transport)."""

from __future__ import annotations

import httpx
import pytest

from deployments.histogram import Histogram
from deployments.stats import LATENCY_BOUNDS_MS, ModelStats, VersionStats
from monitoring.drift import DriftReport, Verdict
from monitoring.monitor import LabelTotals, ModelStatus, VersionStatus
from monitoring.spec import default_spec
from rollout.adapters.metrics_source import (
    GatewayStatsSource,
    counters_from_stats,
    observation_between,
    snapshot_from_model_stats,
)
from rollout.core.analysis import evaluate_checks
from rollout.core.spec import parse_spec
from rollout.errors import MetricsUnavailableError


def version_stats(requests: int, errors: dict[str, int], latencies_ms: list[float]) -> VersionStats:
    histogram = Histogram.empty(LATENCY_BOUNDS_MS)
    for latency in latencies_ms:
        histogram.observe(latency)
    return VersionStats(requests=requests, errors=errors, latency_ms=histogram)


def model_stats(at: float, versions: dict[str, VersionStats]) -> ModelStats:
    return ModelStats(
        model="iris",
        collected_at=at,
        oldest_push_at=at - 0.5,
        replicas=1,
        policy_digests=["d"],
        versions=versions,
    )


def test_counters_count_only_the_versions_5xx_and_keep_its_latency_histogram() -> None:
    errors = {"400": 3, "401": 5, "404": 1, "413": 1, "422": 1, "429": 2, "500": 2, "503": 1}
    stats = version_stats(20, errors, [1, 4, 4, 40])
    counters = counters_from_stats(stats)
    # Only 5xx are the version's failures; every 4xx (bad input, auth, routing, size, throttling) is the caller's.
    assert (counters.requests, counters.errors, counters.latency_ms.count) == (20, 3, 4)
    assert (counters.pinned_requests, counters.pinned_errors) == (0, 0)
    assert counters.latency_ms == stats.latency_ms


def test_pinned_requests_and_client_errors_never_count_against_a_version() -> None:
    def candidate(requests: int, errors: dict[str, int], pinned: int, pinned_errors: dict[str, int]) -> VersionStats:
        stats = version_stats(requests, errors, [])
        return stats.model_copy(update={"pinned_requests": pinned, "pinned_errors": pinned_errors})

    before = snapshot_from_model_stats(model_stats(100.0, {"2": candidate(10, {}, 0, {})}))
    # Over the window: 100 routed requests with 2 failures (500) and 30 bad inputs (400); and a client pinning
    # 200 requests to the candidate, 150 of them answered 500 and 50 with 422.
    after_errors = {"500": 152, "400": 30, "422": 50}
    after = snapshot_from_model_stats(
        model_stats(102.0, {"2": candidate(310, after_errors, 200, {"500": 150, "422": 50})})
    )
    assert (after.versions["2"].requests, after.versions["2"].errors) == (310, 152)
    assert (after.versions["2"].pinned_requests, after.versions["2"].pinned_errors) == (200, 150)
    window = observation_between(before, after, 10.0, 12.0).window("2")
    assert (window.requests, window.errors) == (100, 2)


def test_observation_between_two_snapshots() -> None:
    before = model_stats(100.0, {"1": version_stats(100, {}, [5] * 100)})
    after = model_stats(
        102.0,
        {"1": version_stats(300, {"500": 2}, [5] * 298), "2": version_stats(20, {"500": 20}, [])},
    )
    observation = observation_between(snapshot_from_model_stats(before), snapshot_from_model_stats(after), 48, 50.5)
    assert (observation.collected_at_s, observation.window_s) == (50.5, 2.5)
    champion, candidate = observation.window("1"), observation.window("2")
    assert (champion.requests, champion.errors) == (200, 2)
    assert champion.p99_ms == pytest.approx(3 + 2 * 0.99)  # all 198 new ones in (3, 5]: interpolated
    assert (candidate.requests, candidate.errors, candidate.p99_ms) == (20, 20, None)


def _client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_gateway_source_sends_the_token_and_parses_the_stats() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=model_stats(7.0, {"1": version_stats(5, {}, [1])}).model_dump())

    snapshot = GatewayStatsSource("http://gw:8000/", token="t0k", client=_client(handler)).snapshot("iris")
    assert str(seen[0].url) == "http://gw:8000/-/rayship/stats?model=iris"
    assert seen[0].headers["authorization"] == "Bearer t0k"
    assert (snapshot.collected_at_s, snapshot.oldest_push_at_s, snapshot.versions["1"].requests) == (
        7.0,
        6.5,
        5,
    )


def test_gateway_source_reports_http_errors() -> None:
    source = GatewayStatsSource(
        "http://gw",
        token="bad",
        client=_client(lambda r: httpx.Response(403, json={"error": "Invalid token"})),
    )
    with pytest.raises(MetricsUnavailableError) as caught:
        source.snapshot("iris")
    assert str(caught.value) == (
        "Stats of model 'iris' unavailable from http://gw/-/rayship/stats: HTTP 403: Invalid token"
    )
    assert caught.value.status_code == 503


def test_gateway_source_reports_connection_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(MetricsUnavailableError, match=r"unavailable from http://gw/-/rayship/stats: ConnectError"):
        GatewayStatsSource("http://gw", token=None, client=_client(refuse)).snapshot("iris")


def test_shadow_agreement_counters_become_per_window_rows() -> None:
    def shadow_target(requests: int, compared: int, agreed: int) -> VersionStats:
        stats = version_stats(requests, {}, [5] * requests)
        return stats.model_copy(update={"shadow_rows_compared": compared, "shadow_rows_agreed": agreed})

    before = snapshot_from_model_stats(model_stats(100.0, {"2": shadow_target(50, 40, 38)}))
    after = snapshot_from_model_stats(model_stats(102.0, {"2": shadow_target(80, 70, 65)}))
    assert (after.versions["2"].shadow_rows_compared, after.versions["2"].shadow_rows_agreed) == (70, 65)
    window = observation_between(before, after, 10.0, 12.0).window("2")
    assert (window.requests, window.shadow_rows_compared, window.shadow_rows_agreed) == (30, 30, 27)
    # A restarted gateway replica starts its counters again: the window counts from zero, as for requests.
    restarted = snapshot_from_model_stats(model_stats(104.0, {"2": shadow_target(90, 20, 19)}))
    window = observation_between(before, restarted, 10.0, 14.0).window("2")
    assert (window.requests, window.shadow_rows_compared, window.shadow_rows_agreed) == (90, 20, 19)


def version_status(version: str, labels: int, correct: int, classes: dict[str, int] | None) -> VersionStatus:
    return VersionStatus(
        version=version,
        replicas=1,
        last_push_at=6.0,
        rows_seen=sum(classes.values()) if classes else 0,
        window_start_s=None,
        drift=DriftReport(verdict=Verdict.NO_PROFILE, rows=0, min_rows=100, features=[], prediction=None),
        predicted_classes=classes,
        accuracy=None,
        labels_total=labels,
        correct_total=correct,
    )


def model_status(versions: list[VersionStatus]) -> ModelStatus:
    return ModelStatus(
        model="iris",
        collected_at=7.0,
        spec=default_spec("iris"),
        spec_source="default",
        versions={status.version: status for status in versions},
        labels=LabelTotals(accepted=sum(status.labels_total for status in versions)),
    )


def gateway(stats: ModelStats, monitoring) -> tuple[httpx.Client, list[httpx.Request]]:
    """The stats route answers `stats`; the monitoring route answers what `monitoring(request)` returns."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/-/rayship/stats":
            return httpx.Response(200, json=stats.model_dump())
        return monitoring(request)

    return _client(handler), seen


def test_the_snapshot_merges_the_monitors_quality_counters_per_version() -> None:
    stats = model_stats(7.0, {"1": version_stats(300, {}, [5]), "2": version_stats(40, {}, [5])})
    status = model_status(
        [
            version_status("1", 200, 192, {"0": 100, "1": 60, "2": 40, "other": 0}),
            version_status("3", 5, 5, None),  # known to the monitor only
        ]
    )
    client, seen = gateway(stats, lambda request: httpx.Response(200, json=status.model_dump(mode="json")))
    snapshot = GatewayStatsSource("http://gw:8000/", token="t0k", client=client).snapshot("iris")
    assert [str(request.url) for request in seen] == [
        "http://gw:8000/-/rayship/stats?model=iris",
        "http://gw:8000/-/rayship/monitoring?model=iris",
    ]
    assert seen[1].headers["authorization"] == "Bearer t0k"
    assert seen[1].extensions["timeout"]["read"] == 1.0  # a slow monitor must not stretch the windows
    assert snapshot.monitoring_unavailable is None
    champion, candidate, monitored = (snapshot.versions[v] for v in ("1", "2", "3"))
    assert (champion.requests, champion.labels, champion.correct) == (300, 200, 192)
    assert champion.predicted_classes == {"0": 100, "1": 60, "2": 40, "other": 0}
    # A version the monitor has not seen yet has no labels; one only the monitor knows has no requests.
    assert (candidate.requests, candidate.labels, candidate.correct, candidate.predicted_classes) == (40, 0, 0, None)
    assert (monitored.requests, monitored.labels, monitored.correct, monitored.predicted_classes) == (0, 5, 5, None)


def test_windows_count_the_labels_and_predicted_classes_between_two_snapshots() -> None:
    def snapshot(at: float, labels: int, correct: int, classes: dict[str, int]):
        stats = model_stats(at, {"2": version_stats(int(at), {}, [5])})
        status = model_status([version_status("2", labels, correct, classes)])
        client, _ = gateway(stats, lambda request: httpx.Response(200, json=status.model_dump(mode="json")))
        return GatewayStatsSource("http://gw", token=None, client=client).snapshot("iris")

    before = snapshot(100.0, 40, 38, {"0": 30, "1": 10, "other": 0})
    after = snapshot(102.0, 70, 50, {"0": 60, "1": 12, "other": 1})
    window = observation_between(before, after, 10.0, 12.0).window("2")
    assert (window.requests, window.labels, window.correct) == (2, 30, 12)
    assert (window.predicted_classes, window.quality_unavailable) == ({"0": 30, "1": 2, "other": 1}, None)
    # The monitor restarted: its counters went down, and the window counts them from zero.
    restarted = snapshot(104.0, 6, 5, {"0": 4, "1": 0, "other": 0})
    window = observation_between(after, restarted, 12.0, 14.0).window("2")
    assert (window.requests, window.labels, window.correct, window.predicted_classes) == (
        2,
        6,
        5,
        {"0": 4, "1": 0, "other": 0},
    )


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused")


def _time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out")


@pytest.mark.parametrize(
    ("monitoring", "why"),
    [
        (
            lambda request: httpx.Response(503, json={"error": "Model monitoring is not available on this gateway"}),
            "HTTP 503: Model monitoring is not available on this gateway",
        ),
        (lambda request: httpx.Response(502, text="Bad Gateway"), "HTTP 502: Bad Gateway"),
        (lambda request: httpx.Response(502, json=["not", "an", "object"]), 'HTTP 502: ["not","an","object"]'),
        (_refuse, "ConnectError: connection refused"),
        (_time_out, "ReadTimeout: timed out"),
        (lambda request: httpx.Response(200, json={"model": "iris"}), "unexpected response (5 errors)"),
        (lambda request: httpx.Response(200, text="<html>"), "unexpected response (1 errors)"),
    ],
)
def test_a_failing_monitoring_route_leaves_the_snapshot_without_quality_and_says_why(monitoring, why: str) -> None:
    stats = model_stats(7.0, {"1": version_stats(300, {}, [5]), "2": version_stats(40, {"500": 1}, [5])})
    client, _ = gateway(stats, monitoring)
    snapshot = GatewayStatsSource("http://gw", token="t0k", client=client).snapshot("iris")
    assert snapshot.monitoring_unavailable == why
    assert (snapshot.versions["2"].requests, snapshot.versions["2"].errors) == (40, 1)
    assert [(c.labels, c.correct, c.predicted_classes) for c in snapshot.versions.values()] == [(None, None, None)] * 2

    # The quality checks over such a window pass, saying why they could not judge.
    before = snapshot.model_copy(update={"versions": {}, "monitoring_unavailable": None})
    observation = observation_between(before, snapshot, 10.0, 12.0)
    assert observation.window("2").quality_unavailable == f"monitoring unavailable: {why}"
    spec = parse_spec(
        {
            "strategy": "canary",
            "step_weights": [50],
            "metrics": [],
            "comparison": None,
            "accuracy_vs_champion": {"min_labels": 1},
            "prediction_drift_vs_champion": {"max_js": 0.1, "min_rows": 1},
        }
    )
    checks = evaluate_checks(spec, observation.window("2"), observation.window("1"))
    assert [(check.name, check.passed, check.value, check.reason) for check in checks] == [
        ("accuracy_vs_champion", True, None, f"monitoring unavailable: {why}"),
        ("prediction_drift_vs_champion", True, None, f"monitoring unavailable: {why}"),
    ]


def test_a_window_from_a_baseline_without_monitoring_has_no_quality_either() -> None:
    stats = model_stats(7.0, {"2": version_stats(40, {}, [5])})
    down, _ = gateway(stats, lambda request: httpx.Response(503, json={"error": "Model monitoring is not available"}))
    status = model_status([version_status("2", 500, 480, {"0": 500})])
    up, _ = gateway(stats, lambda request: httpx.Response(200, json=status.model_dump(mode="json")))
    baseline = GatewayStatsSource("http://gw", token=None, client=down).snapshot("iris")
    latest = GatewayStatsSource("http://gw", token=None, client=up).snapshot("iris")
    # Everything the monitor counted since it started is not this window's: the window has no quality counters.
    window = observation_between(baseline, latest, 10.0, 12.0).window("2")
    assert (window.labels, window.predicted_classes) == (0, None)
    assert window.quality_unavailable == "monitoring unavailable: HTTP 503: Model monitoring is not available"


def test_the_stats_route_failing_still_fails_the_snapshot_without_asking_the_monitor() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, json={"error": "Gateway stats are unavailable"})

    with pytest.raises(MetricsUnavailableError, match=r"HTTP 503: Gateway stats are unavailable$"):
        GatewayStatsSource("http://gw", token=None, client=_client(handler)).snapshot("iris")
    assert [request.url.path for request in seen] == ["/-/rayship/stats"]
