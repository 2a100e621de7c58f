"""From the gateway's stats JSON to rollout observations (HTTP through httpx's in-process transport)."""

from __future__ import annotations

import httpx
import pytest

from deployments.histogram import Histogram
from deployments.stats import LATENCY_BOUNDS_MS, ModelStats, VersionStats
from rollout.adapters.metrics_source import (
    GatewayStatsSource,
    counters_from_stats,
    observation_between,
    snapshot_from_model_stats,
)
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
